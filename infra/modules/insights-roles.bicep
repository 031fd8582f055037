// Monitoring Metrics Publisher on the app's own Application Insights component: with local
// authentication disabled, the Functions host sends telemetry with its managed identity.

@description('Required. Name of the Application Insights component (in this resource group).')
param applicationInsightsName string

@description('Required. Object id of the orchestrator identity.')
param principalId string

@description('Required. Built-in role definition id (GUID) to assign on the component.')
param roleDefinitionId string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, roleDefinitionId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
