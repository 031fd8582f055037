// Key Vault Secrets User on one Key Vault that holds the secrets of a pair (pairs[].secrets.key_vault),
// deployed into the vault's resource group. Recovery reads mapped secrets from it (get only).
// Scope: the Key Vault only. The vault must use the Azure RBAC permission model.

@description('Required. Name of the Key Vault (in this resource group).')
param keyVaultName string

@description('Required. Object id of the orchestrator identity.')
param principalId string

@description('Required. Built-in role definition id (GUID) to assign on the Key Vault.')
param roleDefinitionId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleDefinitionId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
