// A storage account reached only with Entra ID (no shared key, no SAS signed with the account key,
// no anonymous blob access, TLS 1.2+). Used twice: the Functions host storage (task hub, leases,
// deployment package) and the DR storage account (pointer, catalog, audit, journal, pair state).

@description('Required. Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Region of the account (the orchestrator region, never the primary).')
param location string

@description('Required. Replication SKU, e.g. Standard_RAGZRS for the DR account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param skuName string

@description('Optional. Blob containers to create.')
param containers array = []

@description('Optional. Tables to create.')
param tables array = []

@description('Optional. Days blobs and containers stay recoverable after deletion (0 turns soft delete off).')
@minValue(0)
@maxValue(365)
param softDeleteRetentionDays int = 14

@description('Optional. Keep previous versions of every blob (blob versioning).')
param versioning bool = false

@description('Optional. Tags applied to the account.')
param tags object = {}

// No private endpoint / VNet in this template: the Flex Consumption app reaches storage over
// the public endpoint, so the firewall can't default to Deny. Access is identity-only
// (allowSharedKeyAccess false, RBAC data roles), which is what protects the data.
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  #checkov:skip=CKV_AZURE_35: no VNet integration in this template (Flex Consumption over public endpoints); access is Entra-ID-only (allowSharedKeyAccess false) with RBAC data roles
  #checkov:skip=CKV_AZURE_59: public endpoint needed by the Flex Consumption app without VNet integration; anonymous and shared-key access are both disabled
  #checkov:skip=CKV_AZURE_206: replication is the caller's choice per account: the DR account is RA-GZRS or RA-GRS (restricted by @allowed in main.bicep, asserted by tests/test_infra.py); the host storage is ZRS, in the same region as the app it serves
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: versioning
    deleteRetentionPolicy: {
      enabled: softDeleteRetentionDays > 0
      days: softDeleteRetentionDays > 0 ? softDeleteRetentionDays : null
    }
    containerDeleteRetentionPolicy: {
      enabled: softDeleteRetentionDays > 0
      days: softDeleteRetentionDays > 0 ? softDeleteRetentionDays : null
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = if (!empty(tables)) {
  parent: account
  name: 'default'
}

resource storageTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tables: {
    parent: tableService
    name: table
  }
]

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
