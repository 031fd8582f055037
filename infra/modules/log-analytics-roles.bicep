// Log Analytics Reader on one Log Analytics workspace a health probe queries (policy.log_query),
// deployed into that workspace's resource group. Scope: the Log Analytics workspace only.

@description('Required. Name of the Log Analytics workspace (in this resource group).')
param logAnalyticsWorkspaceName string

@description('Required. Object id of the orchestrator identity.')
param principalId string

@description('Required. Built-in role definition id (GUID) to assign on the Log Analytics workspace.')
param roleDefinitionId string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(logAnalytics.id, principalId, roleDefinitionId)
  scope: logAnalytics
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
