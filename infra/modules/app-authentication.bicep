// App Service authentication (Easy Auth) with Entra ID in front of every route but /api/alerts,
// which Azure Monitor's action group calls with the function key (it can't sign in). Callers of
// the operator API need an Entra token for the app registration *and* a function key. Easy Auth
// strips client-sent x-ms-client-principal* headers and sets its own, which the app trusts only
// because APP_SERVICE_AUTH_ENABLED says this resource exists (main.bicep sets both from one
// parameter). The Durable webhooks (/runtime/webhooks/durabletask) sit behind it too.
// Deployed by function-app.bicep only when an app registration is given.

@description('Required. Name of the Function App to put behind App Service authentication.')
param appName string

@description('Required. Client id of the Entra ID app registration whose tokens are accepted (audience api://<client id> or the client id).')
param clientId string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  #checkov:skip=CKV_AZURE_13: this is the authentication: authsettingsV2 turns it on with platform.enabled (the check reads the V1 schema's properties.enabled)
  #checkov:skip=CKV_AZURE_63: a check of the 'web' config (HTTP logging); this is the authsettingsV2 config, which has no such setting (logs go to Application Insights)
  #checkov:skip=CKV_AZURE_65: a check of the 'web' config (detailed errors); this is the authsettingsV2 config
  #checkov:skip=CKV_AZURE_66: a check of the 'web' config (failed request tracing); this is the authsettingsV2 config
  #checkov:skip=CKV_AZURE_80: a check of the 'web' config (.NET version); this is the authsettingsV2 config of a Python app
  #checkov:skip=CKV_AZURE_88: a check of the 'web' config (Azure Files mounts); this is the authsettingsV2 config
  #checkov:skip=CKV_AZURE_222: public network access is the site's (skipped there, with its reason); this is the authsettingsV2 config
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/api/alerts'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${clientId}'
            clientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}
