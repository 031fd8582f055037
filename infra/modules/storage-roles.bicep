// Data-plane role assignments on one storage account, for one principal. Names are
// deterministic (guid of account, principal, role) so a re-deployment is a no-op.

@description('Required. Name of the storage account (in this resource group).')
param storageAccountName string

@description('Required. Object id of the principal that gets the roles.')
param principalId string

@description('Required. Built-in role definition ids (GUIDs) to assign on the account.')
param roleDefinitionIds array

@description('Optional. Type of the principal: ServicePrincipal for managed identities, User or Group for people.')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param principalType string = 'ServicePrincipal'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in roleDefinitionIds: {
    name: guid(account.id, principalId, roleId)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: principalId
      principalType: principalType
    }
  }
]
