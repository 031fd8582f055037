// The operators' action group: people, not the orchestrator. Alerts about the orchestrator's own
// readiness go here, never to POST /api/alerts (a standby that is not ready is no reason to fail
// over: it is a reason for a person to look).

@description('Required. Action group name.')
param name string

@description('Required. Short name shown in notifications (at most 12 characters).')
@maxLength(12)
param shortName string

@description('Optional. E-mail addresses notified (Common Alert Schema). Empty: the alert shows in Azure Monitor only.')
param emails array = []

@description('Optional. Tags applied to the action group.')
param tags object = {}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: name
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: shortName
    enabled: true
    emailReceivers: [for (email, i) in emails: {
      name: 'operator-${i}'
      emailAddress: email
      useCommonAlertSchema: true
    }]
  }
}

output id string = actionGroup.id
output name string = actionGroup.name
