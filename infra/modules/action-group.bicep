// The action group every failover alert uses: it calls the orchestrator's POST /api/alerts
// (Azure Function receiver) with the Common Alert Schema. Azure Monitor reads the function key
// when the receiver is created or updated: see docs/deploy.md, "one-time steps".

@description('Required. Action group name.')
param name string

@description('Required. Short name shown in notifications (at most 12 characters).')
@maxLength(12)
param shortName string

@description('Required. Resource id of the orchestrator Function App.')
param functionAppId string

@description('Required. Default host name of the orchestrator Function App.')
param functionAppHostName string

@description('Optional. Name of the HTTP-triggered function that receives alerts (route alerts).')
param functionName string = 'alerts'

@description('Optional. Tags applied to the action group.')
param tags object = {}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: name
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: shortName
    enabled: true
    azureFunctionReceivers: [
      {
        name: 'hubfailover-alerts'
        functionAppResourceId: functionAppId
        functionName: functionName
        httpTriggerUrl: 'https://${functionAppHostName}/api/alerts'
        useCommonAlertSchema: true
      }
    ]
  }
}

output id string = actionGroup.id
output name string = actionGroup.name
