// A not-ready standby raises its own alert: a log search alert over the readiness gauge the app
// exports (OpenTelemetry metric hubfailover.readiness, 0 = not ready, one series per pair, in the
// customMetrics table of Application Insights). One alert per pair (dimension pair), resolved by the
// next check that finds the pair ready. Sent to the operators' action group, never to /api/alerts.

@description('Required. Alert rule name.')
param name string

@description('Required. Region of the rule (the orchestrator region).')
param location string

@description('Required. Resource id of the Application Insights component the app exports to.')
param applicationInsightsId string

@description('Required. Resource id of the operators\' action group.')
param actionGroupId string

@description('Optional. Minutes between evaluations (the readiness timer runs every 15 by default).')
@allowed([
  5
  10
  15
  30
  60
])
param evaluationMinutes int = 15

@description('Optional. Alert severity (0 critical to 4 verbose).')
@minValue(0)
@maxValue(4)
param severity int = 2

@description('Optional. Tags applied to the rule.')
param tags object = {}

// The last value of each pair's series in the window: 0 means its last check found it not ready.
var query = 'customMetrics | where name == "hubfailover.readiness" | extend pair = tostring(customDimensions["hubfailover.pair"]) | summarize arg_max(timestamp, value) by pair | where value < 1'

resource rule 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: name
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'hubfailover: a standby is not ready to take over'
    description: 'The last readiness check of a hub pair found its standby not ready (see GET /api/pairs/{pair}, readiness.reasons, or hubfailover status PAIR).'
    severity: severity
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT${evaluationMinutes}M'
    windowSize: 'PT${evaluationMinutes * 2}M'
    criteria: {
      allOf: [
        {
          query: query
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'pair'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

output id string = rule.id
output name string = rule.name
