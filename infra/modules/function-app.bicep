// The orchestrator: a Python 3.11 Function App on the Flex Consumption plan (FC1), running as a
// user-assigned managed identity. Host storage (AzureWebJobsStorage, the Durable task hub) and
// the deployment package container are reached with that identity: no connection string or
// account key anywhere. Application Insights via its connection string, Entra-authenticated.

@description('Required. Function App name (also the default host name prefix).')
param name string

@description('Required. Flex Consumption plan name.')
param planName string

@description('Required. Region of the plan and the app (the orchestrator region, never the primary).')
param location string

@description('Required. Resource id of the user-assigned managed identity the app runs as.')
param identityId string

@description('Required. Client id of the user-assigned managed identity (AzureWebJobsStorage__clientId, AZURE_CLIENT_ID).')
param identityClientId string

@description('Required. Name of the host storage account (AzureWebJobsStorage, deployment package).')
param hostStorageName string

@description('Required. Blob container of the host storage account that receives the deployment package.')
param deploymentContainerName string

@description('Required. Application Insights connection string (no instrumentation key setting).')
param applicationInsightsConnectionString string

@description('Required. Application settings read by the code (names from failover/domain/settings.py ALL_SETTINGS, minus the local-only ones).')
param appSettings object

@description('Optional. Maximum number of instances the Flex Consumption plan scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Optional. Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Client id of the Entra ID app registration App Service authentication accepts tokens for (the operator API). Empty: no App Service authentication; the app then records every operator as an unverified function key holder.')
param authClientId string = ''

@description('Optional. Tags applied to the plan and the app (the app also gets azd-service-name).')
param tags object = {}

@description('Optional. Spread the plan\'s instances over availability zones (needs a zone-redundant host storage account and a region with zones).')
param zoneRedundant bool = true

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

// Identity-based host storage and Entra-authenticated telemetry, then the code's own settings.
// Flex Consumption takes no FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION settings:
// the runtime comes from functionAppConfig.runtime.
var platformSettings = {
  AzureWebJobsStorage__blobServiceUri: hostStorage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: hostStorage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: hostStorage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The Python worker configures the Azure Monitor OpenTelemetry distro and makes each invocation's trace
  // context current (host.json telemetryMode OpenTelemetry): our spans join the host's Durable traces.
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
}
var allSettings = union(appSettings, platformSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  #checkov:skip=CKV_AZURE_17: client certificates would block Azure Monitor's action group call to /api/alerts; every HTTP function requires a function key
  #checkov:skip=CKV_AZURE_212: Flex Consumption scales per function group on demand and has no fixed instance count to set (always-ready instances are optional and billed)
  #checkov:skip=CKV_AZURE_213: a Function App on Flex Consumption has no App Service health check; the hubs' health is what this app probes, and its own failures show in Application Insights
  #checkov:skip=CKV_AZURE_222: Azure Monitor action groups and operators reach /api over the public endpoint; every HTTP function requires a function key (AuthLevel.FUNCTION)
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(allSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// App Service authentication (Easy Auth, Entra ID) in front of every route but /api/alerts, only
// with an app registration: see app-authentication.bicep. main.bicep sets APP_SERVICE_AUTH_ENABLED
// from the same parameter, so the app trusts the principal headers exactly when this exists.
module authentication 'app-authentication.bicep' = if (!empty(authClientId)) {
  name: 'app-authentication'
  params: {
    appName: functionApp.name
    clientId: authClientId
  }
}

output id string = functionApp.id
output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
