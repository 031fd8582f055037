// The orchestrator identity's role on one Azure ML workspace / AI Studio hub, deployed into the
// workspace's own resource group (possibly in another subscription). Scope: the workspace only.

@description('Required. Name of the Azure ML workspace / AI Studio hub (in this resource group).')
param workspaceName string

@description('Required. Object id of the orchestrator identity.')
param principalId string

@description('Required. Built-in role definition id (GUID) to assign on the workspace.')
param roleDefinitionId string

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, roleDefinitionId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
