// hubfailover: the failover orchestrator for Azure ML / AI Studio hubs, deployed with `azd up`.
//
// Subscription scope, because the template
//   - creates its own resource group in the orchestrator region (the azd convention, and the
//     only way to pin the group's metadata outside the primary region), and
//   - deploys role assignments and alert rules into the resource groups of the protected
//     workspaces, which may live in other resource groups or subscriptions.
// Nothing is assigned at subscription scope: every role assignment is scoped to one resource.
//
// Placement: the Function App, its host storage and the DR storage account go to
// orchestratorRegion (default: the secondary region), never to a primary region.
targetScope = 'subscription'

@description('Required. azd environment name; names the resource group and seeds resource names.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Required. The secondary region (azd AZURE_LOCATION): where the orchestrator runs unless orchestratorRegion says otherwise.')
param secondaryRegion string

@description('Required. The primary region the orchestrator must survive (AZURE_PRIMARY_REGION). Nothing is deployed there.')
param primaryRegion string

@description('Optional. Region of the Function App, its host storage and the DR storage account: the secondary region by default, or a third region. Never a primary region.')
param orchestratorRegion string = secondaryRegion

@description('Optional. Resource group to create for the orchestrator.')
param resourceGroupName string = 'rg-${environmentName}'

@description('Required. The hub-pair configuration (failover.json as an object; azd: FAILOVER_CONFIG_JSON). Becomes the FAILOVER_CONFIG app setting. Holds no secrets.')
param failoverConfig object

// Each element of protectedPairs:
//   name                      pair name, as in failover.json (pairs[].name)
//   primaryWorkspaceId        ARM id of the primary Azure ML workspace / AI Studio hub
//   primaryRegion             primary region, programmatic name (e.g. swedencentral)
//   aiServicesAccountId       optional: ARM id of the primary AI Services / Azure OpenAI account
//   primaryRegionDisplayName  optional: the region as Service Health reports it (e.g. Sweden Central)
//   alertsResourceGroup       optional: resource group (in the primary workspace's subscription)
//                             for the alert rules; default: the workspace's resource group
@description('Optional. Pairs to wire alerts for (azd: HUBFAILOVER_ALERT_PAIRS), see the comment above. Empty: every pair of failoverConfig with an azureml primary, without AI Services alerts.')
param protectedPairs array = []

@description('Optional. Create the action group and the alert rules.')
param deployAlerts bool = true

@description('Optional. Replication of the DR storage account: RA-GZRS, or RA-GRS where the region has no availability zones.')
@allowed([
  'Standard_RAGZRS'
  'Standard_RAGRS'
])
param drStorageSku string = 'Standard_RAGZRS'

@description('Optional. Replication of the Functions host storage account (task hub): ZRS, or LRS where the region has no availability zones.')
@allowed([
  'Standard_ZRS'
  'Standard_LRS'
])
param hostStorageSku string = 'Standard_ZRS'

@description('Optional. HEALTH_PROBE_SCHEDULE: six-field NCRONTAB of the health probe timer.')
param healthProbeSchedule string = '*/30 * * * * *'

@description('Optional. CATALOG_SYNC_SCHEDULE: six-field NCRONTAB of the catalog sync timer.')
param catalogSyncSchedule string = '0 */15 * * * *'

@description('Optional. READINESS_SCHEDULE: six-field NCRONTAB of the readiness timer (every 15 minutes, 5 minutes after each catalog sync).')
param readinessSchedule string = '0 5-59/15 * * * *'

@description('Optional. E-mail addresses of the operators notified when a standby is not ready (HUBFAILOVER_OPERATOR_EMAILS). Empty: the alert shows in Azure Monitor only.')
param operatorAlertEmails array = []

@description('Optional. DURABLE_TASK_HUB_NAME: Durable Functions task hub name (letters and digits, 3-45, starting with a letter).')
@minLength(3)
@maxLength(45)
param durableTaskHubName string = 'hubfailover'

@description('Optional. Role the orchestrator identity gets on each Azure ML workspace of the config (default: AzureML Data Scientist). A narrower custom role id may be given.')
param workspaceRoleDefinitionId string = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'

@description('Optional. Object id of the person or group running azd (AZURE_PRINCIPAL_ID): gets read-only data access to the DR storage account (pointer, catalog, audit). Empty: none.')
param principalId string = ''

@description('Optional. Type of principalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Optional. Client id of an Entra ID app registration for the operator API (HUBFAILOVER_OPERATOR_AUTH_CLIENT_ID). Set: App Service authentication with Entra ID fronts every route but /api/alerts, and the app trusts the signed-in identity (APP_SERVICE_AUTH_ENABLED=true). Empty: function keys only, every operator recorded as an unverified function key holder.')
param operatorAuthClientId string = ''

@description('Optional. Not Responding Runs (total over 15 minutes) above which the workspace metric alert fires.')
@minValue(0)
param notRespondingRunsThreshold int = 3

@description('Optional. Tags applied to every resource.')
param tags object = {}

// -- built-in roles (GUIDs are the same in every subscription) -----------------------------------
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

// -- names ----------------------------------------------------------------------------------------
var resourceToken = toLower(uniqueString(subscription().id, environmentName, orchestratorRegion))
var allTags = union(tags, { 'azd-env-name': environmentName })
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

// Table and container names of the DR storage account: the constants of failover/stores/ (pointer.py,
// catalog.py, audit.py, journal.py, pair_state.py, alert_deliveries.py, decisions.py);
// tests/test_infra.py keeps them equal.
var drTables = [
  'drpointers'
  'draudit'
  'drjournal'
  'drpairstate'
  'dralerts'
  'drdecisions'
]
var drContainers = [
  'drcatalog'
  'drreports'
]

// -- placement guard ------------------------------------------------------------------------------
// Every primary region (the parameter, each protected pair's, each config pair's primary).
var configPairs = failoverConfig.?pairs ?? []
var protectedPrimaryRegions = [for p in protectedPairs: toLower(p.primaryRegion)]
var configPrimaryRegions = [for p in configPairs: toLower(p.primary.region)]
var primaryRegions = union([toLower(primaryRegion)], protectedPrimaryRegions, configPrimaryRegions)
var placementOk = !contains(primaryRegions, toLower(orchestratorRegion))
// A deployment into a primary region fails at once, naming the problem in the location error.
var orchestratorLocation = placementOk ? orchestratorRegion : 'orchestratorRegion-must-not-be-a-primary-region'

// -- what the config says the identity needs -------------------------------------------------------
// Keys are '<use>|<ARM id>' (deduplicated by union): only 'azureml|' workspaces get a role
// (simulated hubs are for drills), only 'yes|' Log Analytics ids (a bare workspace GUID can't be
// resolved here: grant Log Analytics Reader on it by hand, see docs/deploy.md).
var configPrimaries = [for p in configPairs: p.primary]
var configSecondaries = [for p in configPairs: p.secondary]
var configHubs = concat(configPrimaries, configSecondaries)
var hubWorkspaceKeys = [for h in configHubs: '${h.?backend ?? 'azureml'}|${toLower('/subscriptions/${h.subscription_id}/resourceGroups/${h.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/${h.workspace_name}')}']
var workspaceKeys = union(hubWorkspaceKeys, [])
var hubLogAnalyticsKeys = [for h in configHubs: (h.?backend ?? 'azureml') == 'azureml' && startsWith(toLower(h.?log_analytics_workspace_id ?? ''), '/subscriptions/') ? 'yes|${toLower(h.log_analytics_workspace_id)}' : 'no|/subscriptions/${h.subscription_id}/resourceGroups/${h.resource_group}/none']
var logAnalyticsKeys = union(hubLogAnalyticsKeys, [])
// Key Vaults of pairs[].secrets.key_vault given by ARM id ('yes|'): recovery reads mapped secrets
// from them. A vault given by name can't be located here: grant the role by hand (docs/deploy.md).
var pairKeyVaultKeys = [for p in configPairs: startsWith(toLower(p.?secrets.?key_vault ?? ''), '/subscriptions/') ? 'yes|${toLower(p.secrets.key_vault)}' : 'no|/subscriptions/${p.primary.subscription_id}/resourceGroups/${p.primary.resource_group}/none']
var keyVaultKeys = union(pairKeyVaultKeys, [])
var derivedPairs = [for p in configPairs: {
  name: p.name
  primaryWorkspaceId: '/subscriptions/${p.primary.subscription_id}/resourceGroups/${p.primary.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/${p.primary.workspace_name}'
  primaryRegion: p.primary.region
  backend: p.primary.?backend ?? 'azureml'
}]
var alertPairs = deployAlerts ? (empty(protectedPairs) ? derivedPairs : protectedPairs) : []

// -- resource group ---------------------------------------------------------------------------------
resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: orchestratorLocation
  tags: allTags
}

// -- identity, monitoring, storage --------------------------------------------------------------------
module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: orchestratorLocation
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: orchestratorLocation
    tags: allTags
  }
}

// Functions host storage: task hub (Durable), leases, the deployment package.
module hostStorage 'modules/storage-account.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: orchestratorLocation
    skuName: hostStorageSku
    containers: [
      deploymentContainerName
    ]
    softDeleteRetentionDays: 7
    versioning: false
    tags: allTags
  }
}

// DR storage: pointer table, catalog container, audit and the reports beside it, recovery journal, pair
// state, alert deliveries, approval decisions.
module drStorage 'modules/storage-account.bicep' = {
  name: 'dr-storage'
  scope: rg
  params: {
    name: 'stdr${resourceToken}'
    location: orchestratorLocation
    skuName: drStorageSku
    containers: drContainers
    tables: drTables
    softDeleteRetentionDays: 14
    versioning: true
    tags: allTags
  }
}

// -- the Function App -------------------------------------------------------------------------------
// App settings read by the code: exactly failover/domain/settings.py ALL_SETTINGS minus
// LOCAL_ONLY_SETTINGS (DR_STORAGE_CONNECTION is local-only: in Azure the DR account is reached
// by name with the managed identity). tests/test_infra.py compares the two.
var appSettings = {
  FAILOVER_CONFIG: string(failoverConfig)
  DR_STORAGE_ACCOUNT: drStorage.outputs.name
  HEALTH_PROBE_SCHEDULE: healthProbeSchedule
  CATALOG_SYNC_SCHEDULE: catalogSyncSchedule
  READINESS_SCHEDULE: readinessSchedule
  DURABLE_TASK_HUB_NAME: durableTaskHubName
  // True exactly when function-app.bicep turns on App Service authentication (same parameter):
  // only then may the app trust the x-ms-client-principal* headers.
  APP_SERVICE_AUTH_ENABLED: empty(operatorAuthClientId) ? 'false' : 'true'
}

module app 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: orchestratorLocation
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    hostStorageName: hostStorage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    appSettings: appSettings
    authClientId: operatorAuthClientId
    // Zone-redundant Flex needs zone-redundant host storage: one switch for both.
    zoneRedundant: hostStorageSku == 'Standard_ZRS'
    tags: allTags
  }
  dependsOn: [
    hostStorageRoles
    insightsRoles
  ]
}

// -- role assignments (each scoped to one resource) -------------------------------------------------
// Host storage: what the Functions host and the Durable task hub use (blobs incl. container
// creation and the deployment package, queues, tables).
module hostStorageRoles 'modules/storage-roles.bicep' = {
  name: 'host-storage-roles'
  scope: rg
  params: {
    storageAccountName: hostStorage.outputs.name
    principalId: identity.outputs.principalId
    roleDefinitionIds: [
      roles.storageBlobDataOwner
      roles.storageQueueDataContributor
      roles.storageTableDataContributor
    ]
  }
}

// DR storage: the app reads and writes tables (pointer CAS, audit, journal, pair state, decisions, alert
// deliveries) and blobs (catalog). No queues there.
module drStorageRoles 'modules/storage-roles.bicep' = {
  name: 'dr-storage-roles'
  scope: rg
  params: {
    storageAccountName: drStorage.outputs.name
    principalId: identity.outputs.principalId
    roleDefinitionIds: [
      roles.storageTableDataContributor
      roles.storageBlobDataContributor
    ]
  }
}

// The operator running azd: read-only look at the pointer, catalog and audit.
module operatorRoles 'modules/storage-roles.bicep' = if (!empty(principalId)) {
  name: 'operator-dr-storage-roles'
  scope: rg
  params: {
    storageAccountName: drStorage.outputs.name
    principalId: principalId
    principalType: principalType
    roleDefinitionIds: [
      roles.storageTableDataReader
      roles.storageBlobDataReader
    ]
  }
}

module insightsRoles 'modules/insights-roles.bicep' = {
  name: 'insights-roles'
  scope: rg
  params: {
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.monitoringMetricsPublisher
  }
}

// (Conditional loops are written 'if(' without a space: checkov's Bicep parser needs it.)
// Each Azure ML workspace of the config (primary: catalog sync, probes, failback target;
// secondary: recreate artifacts, resubmit jobs), in the workspace's own resource group.
module workspaceRoles 'modules/workspace-roles.bicep' = [for (key, i) in workspaceKeys: if(startsWith(key, 'azureml|')) {
  name: 'ws-role-${i}-${take(uniqueString(key), 8)}'
  scope: resourceGroup(split(key, '/')[2], split(key, '/')[4])
  params: {
    workspaceName: last(split(key, '/'))
    principalId: identity.outputs.principalId
    roleDefinitionId: workspaceRoleDefinitionId
  }
}]

// Log Analytics workspaces that health probes query (policy.log_query).
module logAnalyticsRoles 'modules/log-analytics-roles.bicep' = [for (key, i) in logAnalyticsKeys: if(startsWith(key, 'yes|')) {
  name: 'la-role-${i}-${take(uniqueString(key), 8)}'
  scope: resourceGroup(split(key, '/')[2], split(key, '/')[4])
  params: {
    logAnalyticsWorkspaceName: last(split(key, '/'))
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.logAnalyticsReader
  }
}]

// Key Vaults holding the secrets recovery maps into recreated jobs and artifacts (pairs[].secrets).
module keyVaultRoles 'modules/key-vault-roles.bicep' = [for (key, i) in keyVaultKeys: if(startsWith(key, 'yes|')) {
  name: 'kv-role-${i}-${take(uniqueString(key), 8)}'
  scope: resourceGroup(split(key, '/')[2], split(key, '/')[4])
  params: {
    keyVaultName: last(split(key, '/'))
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.keyVaultSecretsUser
  }
}]

// -- alerts -------------------------------------------------------------------------------------------
module actionGroup 'modules/action-group.bicep' = if (deployAlerts) {
  name: 'action-group'
  scope: rg
  params: {
    name: 'ag-hubfailover-${resourceToken}'
    shortName: 'hubfailover'
    functionAppId: app.outputs.id
    functionAppHostName: app.outputs.defaultHostName
    tags: allTags
  }
}

// The operators: people notified when a standby is not ready (never the orchestrator's /api/alerts).
module operatorActionGroup 'modules/operator-action-group.bicep' = if (deployAlerts) {
  name: 'operator-action-group'
  scope: rg
  params: {
    name: 'ag-hubfailover-ops-${resourceToken}'
    shortName: 'hubfo-ops'
    emails: operatorAlertEmails
    tags: allTags
  }
}

module readinessAlert 'modules/readiness-alert.bicep' = if (deployAlerts) {
  name: 'readiness-alert'
  scope: rg
  params: {
    name: 'hubfailover-readiness-${resourceToken}'
    location: orchestratorLocation
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    actionGroupId: operatorActionGroup.outputs.id
    tags: allTags
  }
}

module pairAlerts 'modules/pair-alerts.bicep' = [for (pair, i) in alertPairs: if((pair.?backend ?? 'azureml') == 'azureml') {
  name: 'alerts-${i}-${take(uniqueString(pair.name), 8)}'
  scope: resourceGroup(split(pair.primaryWorkspaceId, '/')[2], pair.?alertsResourceGroup ?? split(pair.primaryWorkspaceId, '/')[4])
  params: {
    pairName: pair.name
    workspaceId: pair.primaryWorkspaceId
    aiServicesAccountId: pair.?aiServicesAccountId ?? ''
    primaryRegion: pair.primaryRegion
    primaryRegionDisplayName: pair.?primaryRegionDisplayName ?? ''
    actionGroupId: actionGroup.outputs.id
    notRespondingRunsThreshold: notRespondingRunsThreshold
    tags: allTags
  }
}]

// -- outputs (azd writes them to .azure/<env>/.env) ----------------------------------------------------
output AZURE_LOCATION string = orchestratorLocation
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output SERVICE_API_NAME string = app.outputs.name
output SERVICE_API_URI string = 'https://${app.outputs.defaultHostName}'
output DR_STORAGE_ACCOUNT string = drStorage.outputs.name
output HOST_STORAGE_ACCOUNT string = hostStorage.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output WORKSPACE_ROLE_KEYS array = workspaceKeys
output LOG_ANALYTICS_ROLE_KEYS array = logAnalyticsKeys
output KEY_VAULT_ROLE_KEYS array = keyVaultKeys
output ALERT_ACTION_GROUP_ID string = deployAlerts ? actionGroup.outputs.id : ''
output OPERATOR_ACTION_GROUP_ID string = deployAlerts ? operatorActionGroup.outputs.id : ''
output READINESS_ALERT_RULE_NAME string = deployAlerts ? readinessAlert.outputs.name : ''
output ALERT_RULE_NAMES array = [for (pair, i) in alertPairs: {
  pair: pair.name
  rules: (pair.?backend ?? 'azureml') == 'azureml' ? pairAlerts[i].outputs.ruleNames : []
}]
