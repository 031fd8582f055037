// Alerts on the primary of one hub pair, all sent to the orchestrator's action group (Common
// Alert Schema, POST /api/alerts). Deployed in a resource group of the primary's subscription
// (alert rules watch resources of their own subscription). The rule names are stable: put the
// ones whose target is not the primary workspace (AI Services, Service Health) in the pair's
// alert_targets (see docs/deploy.md).

@description('Required. Pair name, as in failover.json (pairs[].name); prefixes every rule name.')
param pairName string

@description('Required. ARM id of the primary Azure ML workspace / AI Studio hub.')
param workspaceId string

@description('Optional. ARM id of the primary AI Services / Azure OpenAI account (empty: no AI Services alerts).')
param aiServicesAccountId string = ''

@description('Required. Primary region, programmatic name (e.g. swedencentral).')
param primaryRegion string

@description('Optional. Primary region display name as Service Health reports it (e.g. Sweden Central).')
param primaryRegionDisplayName string = ''

@description('Required. Resource id of the action group that calls /api/alerts.')
param actionGroupId string

@description('Optional. Not Responding Runs (total over 15 minutes) above which the metric alert fires.')
@minValue(0)
param notRespondingRunsThreshold int = 0

@description('Optional. AI Services SuccessRate (%, average over 15 minutes) below which the metric alert fires.')
@minValue(1)
@maxValue(100)
param aiServicesSuccessRateThreshold int = 90

@description('Optional. Tags applied to the alert rules.')
param tags object = {}

var hasAiServices = !empty(aiServicesAccountId)
var primarySubscriptionId = split(workspaceId, '/')[2]
var regionNames = union([primaryRegion], empty(primaryRegionDisplayName) ? [] : [primaryRegionDisplayName])
var actions = {
  actionGroups: [
    {
      actionGroupId: actionGroupId
    }
  ]
}

// Resource Health: the workspace (and the AI Services account) becoming Unavailable or Degraded
// for a platform reason. Scopes are the resources themselves (activity-log scope prefixes).
resource resourceHealth 'Microsoft.Insights/activityLogAlerts@2020-10-01' = {
  name: '${pairName}-resource-health'
  location: 'Global'
  tags: tags
  properties: {
    enabled: true
    description: 'hubfailover: Resource Health of the primary of pair ${pairName} is Unavailable or Degraded.'
    scopes: hasAiServices ? [workspaceId, aiServicesAccountId] : [workspaceId]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'ResourceHealth'
        }
        {
          anyOf: [
            {
              field: 'properties.currentHealthStatus'
              equals: 'Unavailable'
            }
            {
              field: 'properties.currentHealthStatus'
              equals: 'Degraded'
            }
          ]
        }
        {
          field: 'properties.cause'
          equals: 'PlatformInitiated'
        }
      ]
    }
    actions: actions
  }
}

// Service Health: an incident in the primary region (any service), for the primary's subscription.
resource serviceHealth 'Microsoft.Insights/activityLogAlerts@2020-10-01' = {
  name: '${pairName}-service-health'
  location: 'Global'
  tags: tags
  properties: {
    enabled: true
    description: 'hubfailover: Service Health incident in ${primaryRegion}, the primary region of pair ${pairName}.'
    scopes: [
      '/subscriptions/${primarySubscriptionId}'
    ]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'ServiceHealth'
        }
        {
          field: 'properties.incidentType'
          equals: 'Incident'
        }
        {
          field: 'properties.impactedServices[*].ImpactedRegions[*].RegionName'
          containsAny: regionNames
        }
      ]
    }
    actions: actions
  }
}

// Metric: runs the workspace stopped hearing from (REFERENCE: workspace metrics).
resource notRespondingRuns 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${pairName}-not-responding-runs'
  location: 'global'
  tags: tags
  properties: {
    description: 'hubfailover: Not Responding Runs on the primary workspace of pair ${pairName}.'
    severity: 1
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    targetResourceType: 'Microsoft.MachineLearningServices/workspaces'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'NotRespondingRuns'
          metricNamespace: 'Microsoft.MachineLearningServices/workspaces'
          metricName: 'Not Responding Runs'
          operator: 'GreaterThan'
          threshold: notRespondingRunsThreshold
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

// Metric: the AI Services account's availability (SuccessRate) dropping.
resource aiServicesSuccessRate 'Microsoft.Insights/metricAlerts@2018-03-01' = if (hasAiServices) {
  name: '${pairName}-ai-services-success-rate'
  location: 'global'
  tags: tags
  properties: {
    description: 'hubfailover: SuccessRate of the primary AI Services account of pair ${pairName}.'
    severity: 1
    enabled: true
    scopes: [
      aiServicesAccountId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    targetResourceType: 'Microsoft.CognitiveServices/accounts'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'SuccessRate'
          metricNamespace: 'Microsoft.CognitiveServices/accounts'
          metricName: 'SuccessRate'
          operator: 'LessThan'
          threshold: aiServicesSuccessRateThreshold
          timeAggregation: 'Average'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

var aiServicesRuleNames = hasAiServices ? ['${pairName}-ai-services-success-rate'] : []
output ruleNames array = concat([resourceHealth.name, serviceHealth.name, notRespondingRuns.name], aiServicesRuleNames)
