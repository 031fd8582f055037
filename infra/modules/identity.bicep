// The orchestrator's user-assigned managed identity: one principal for host storage, DR storage,
// Application Insights, the Azure ML workspaces and Log Analytics. User-assigned, so its role
// assignments exist before the app starts and survive re-creating the app.

@description('Required. Name of the user-assigned managed identity.')
param name string

@description('Required. Region of the identity (the orchestrator region, never the primary).')
param location string

@description('Optional. Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
