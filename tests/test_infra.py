"""infra/: the Bicep template, read with pycep (no Azure, no Bicep CLI).

What a deployment would get wrong silently is asserted here: placement outside the primary
region, DR storage hardening, identity-only storage access, app settings equal to
failover/domain/settings.py, alerts on the Common Alert Schema to /api/alerts, role assignments with
guid() names scoped to single resources. checkov runs separately (``make infra-check``).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from failover.domain import settings as app_settings
from failover.stores.alert_deliveries import ALERT_TABLE
from failover.stores.audit import AUDIT_TABLE
from failover.stores.catalog import CATALOG_CONTAINER
from failover.stores.decisions import DECISION_TABLE
from failover.stores.journal import JOURNAL_TABLE
from failover.stores.pair_state import PAIR_STATE_TABLE
from failover.stores.pointer import POINTER_TABLE
from failover.stores.reports import REPORT_CONTAINER

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Settings the platform needs, not the code: identity-based host storage, telemetry, and the
# client id DefaultAzureCredential uses to pick the user-assigned identity.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AZURE_CLIENT_ID",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
}

ROLE = {
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageBlobDataContributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "storageBlobDataReader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "storageTableDataReader": "76199698-9eea-4c19-bc75-cec21354c6b6",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "logAnalyticsReader": "73c42c96-874c-492b-b04d-ab87d138a893",
    "keyVaultSecretsUser": "4633458b-17de-408a-b874-0445c86b69e6",
}
AZUREML_DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
    "17d1049b-9a84-46fb-8f53-869881c3d3ab",  # Storage Account Contributor (can list keys)
}


@cache
def parsed(name: str) -> dict[str, Any]:
    return BicepParser().parse(file_path=INFRA / name)


def main() -> dict[str, Any]:
    return parsed("main.bicep")


def module(name: str) -> dict[str, Any]:
    return parsed(f"modules/{name}.bicep")


def body(decl: dict[str, Any]) -> dict[str, Any]:
    """A resource or module's properties, under its loop / condition wrapper if any."""
    config = decl["config"]
    return config["config"] if "loop_type" in config or "condition" in config else config


def walk(node: Any):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def mentions(node: Any, name: str) -> bool:
    return any(n == name for n in walk(node))


# -- every file ----------------------------------------------------------------------------------

def test_every_bicep_file_parses_and_the_layout_is_azd_s() -> None:
    names = {str(p.relative_to(INFRA)) for p in BICEP_FILES}
    assert {"main.bicep", "modules/function-app.bicep", "modules/storage-account.bicep",
            "modules/pair-alerts.bicep", "modules/action-group.bicep"} <= names
    for path in BICEP_FILES:
        assert parsed(str(path.relative_to(INFRA)))


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_every_parameter_says_required_or_optional(path: Path) -> None:
    doc = parsed(str(path.relative_to(INFRA)))
    for name, param in doc.get("parameters", {}).items():
        descriptions = [d["argument"] for d in param["decorators"] if d["type"] == "description"]
        assert len(descriptions) == 1, f"{path.name}: param {name} has no @description"
        text = descriptions[0]
        assert text.startswith(("Required. ", "Optional. ")), f"{path.name}: {name}: {text!r}"
        has_default = param.get("default") is not None
        assert has_default == text.startswith("Optional. "), (
            f"{path.name}: {name} is described {text.split('.')[0]} but "
            f"{'has' if has_default else 'has no'} default")


def test_outputs_are_upper_snake() -> None:
    outputs = main()["outputs"]
    assert outputs
    for name in outputs:
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", name), name
    for name in ("AZURE_LOCATION", "AZURE_RESOURCE_GROUP", "SERVICE_API_NAME", "DR_STORAGE_ACCOUNT",
                 "ALERT_RULE_NAMES"):
        assert name in outputs


def test_no_secret_or_key_based_access_anywhere() -> None:
    forbidden = re.compile(
        r"listKeys|listAccountSas|listServiceSas|AccountKey|DefaultEndpointsProtocol|SharedAccessSignature"
        r"|InstrumentationKey|primaryKey|connectionStrings|AzureWebJobsStorage'?\s*:|@secure",
        re.IGNORECASE)
    for path in [*BICEP_FILES, INFRA / "main.parameters.json", ROOT / "azure.yaml"]:
        text = path.read_text()
        assert not forbidden.search(text), f"{path.name}: {forbidden.search(text)}"
        code = re.sub(r"//.*$|#.*$", "", text, flags=re.MULTILINE)  # comments may explain, not set
        for local in app_settings.LOCAL_ONLY_SETTINGS:
            assert local not in code, f"{path.name} sets the local-only setting {local}"


# -- placement -----------------------------------------------------------------------------------

def test_main_is_subscription_scoped_and_creates_the_resource_group_in_the_orchestrator_region() -> None:
    assert main()["globals"]["scope"]["value"] == "subscription"
    rg = main()["resources"]["rg"]
    assert rg["type"] == "Microsoft.Resources/resourceGroups"
    assert body(rg)["location"] == "orchestratorLocation"


def test_orchestrator_region_defaults_to_the_secondary_and_never_the_primary() -> None:
    params = main()["parameters"]
    assert params["orchestratorRegion"]["default"] == "secondaryRegion"
    assert params["primaryRegion"]["default"] is None  # required
    guard = main()["variables"]["orchestratorLocation"]["value"]["operator"]
    assert guard["type"] == "conditional"
    assert guard["operands"]["condition"] == "placementOk"
    assert guard["operands"]["true_value"] == "orchestratorRegion"
    placement_ok = main()["variables"]["placementOk"]["value"]
    assert mentions(placement_ok, "primaryRegions") and mentions(placement_ok, "orchestratorRegion")
    primary_regions = main()["variables"]["primaryRegions"]["value"]
    assert mentions(primary_regions, "primaryRegion")
    assert mentions(primary_regions, "protectedPrimaryRegions")
    assert mentions(primary_regions, "configPrimaryRegions")


def test_every_regional_resource_goes_to_the_orchestrator_location() -> None:
    regional = {"identity", "monitoring", "hostStorage", "drStorage", "app"}
    for name, mod in main()["modules"].items():
        params = body(mod).get("params", {})
        if "location" in params:
            assert params["location"] == "orchestratorLocation", name
        if name in regional:
            assert params.get("location") == "orchestratorLocation", name
        assert not mentions(params.get("location"), "primaryRegion"), name
    # modules place their resources where they are told, or globally (alerts, action group)
    for path in BICEP_FILES:
        doc = parsed(str(path.relative_to(INFRA)))
        for name, res in doc.get("resources", {}).items():
            if res.get("existing"):
                continue
            location = body(res).get("location")
            if location is not None:
                assert location in {"location", "orchestratorLocation", "Global", "global"}, (path.name, name)


# -- DR storage ------------------------------------------------------------------------------------

def test_dr_storage_is_geo_redundant_with_read_access() -> None:
    sku = main()["parameters"]["drStorageSku"]
    assert sku["default"] == "Standard_RAGZRS"
    allowed = next(d["argument"] for d in sku["decorators"] if d["type"] == "allowed")
    assert set(allowed) == {"Standard_RAGZRS", "Standard_RAGRS"}
    dr = body(main()["modules"]["drStorage"])
    assert dr["params"]["skuName"] == "drStorageSku"


def test_dr_storage_holds_exactly_what_the_code_uses_with_soft_delete_and_versioning() -> None:
    dr = body(main()["modules"]["drStorage"])["params"]
    assert dr["versioning"] is True
    assert dr["softDeleteRetentionDays"] >= 7
    variables = main()["variables"]
    assert set(variables["drTables"]["value"]) == {
        POINTER_TABLE, AUDIT_TABLE, JOURNAL_TABLE, PAIR_STATE_TABLE, ALERT_TABLE, DECISION_TABLE}
    assert variables["drContainers"]["value"] == [CATALOG_CONTAINER, REPORT_CONTAINER]
    assert {POINTER_TABLE, AUDIT_TABLE, JOURNAL_TABLE, PAIR_STATE_TABLE, CATALOG_CONTAINER, REPORT_CONTAINER} == {
        "drpointers", "draudit", "drjournal", "drpairstate", "drcatalog", "drreports"}


def test_storage_accounts_are_entra_only_tls12_and_private_to_anonymous_readers() -> None:
    storage = module("storage-account")
    props = body(storage["resources"]["account"])["properties"]
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["allowBlobPublicAccess"] is False
    assert props["allowSharedKeyAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    blob = body(storage["resources"]["blobService"])["properties"]
    assert blob["isVersioningEnabled"] == "versioning"
    for policy in ("deleteRetentionPolicy", "containerDeleteRetentionPolicy"):
        assert mentions(blob[policy]["enabled"], "softDeleteRetentionDays")
    assert body(storage["resources"]["blobContainers"])["properties"]["publicAccess"] == "None"


# -- the Function App ----------------------------------------------------------------------------------

def test_function_app_is_flex_consumption_python_311_with_a_user_assigned_identity() -> None:
    fa = module("function-app")
    plan = body(fa["resources"]["plan"])
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = body(fa["resources"]["functionApp"])
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert site["properties"]["httpsOnly"] is True
    assert site["properties"]["siteConfig"]["minTlsVersion"] == "1.2"
    assert site["properties"]["siteConfig"]["ftpsState"] == "Disabled"


def test_host_storage_is_identity_based_and_telemetry_uses_the_connection_string() -> None:
    platform = module("function-app")["variables"]["platformSettings"]["value"]
    assert set(platform) == PLATFORM_SETTINGS
    assert platform["AzureWebJobsStorage__credential"] == "managedidentity"
    assert platform["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert platform["AZURE_CLIENT_ID"] == "identityClientId"
    names = set(platform) | set(main()["variables"]["appSettings"]["value"])
    assert "AzureWebJobsStorage" not in names
    assert not {"APPINSIGHTS_INSTRUMENTATIONKEY", "FUNCTIONS_WORKER_RUNTIME",
                "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"} & names
    app_settings_entry = module("function-app")["resources"]["functionApp"]
    assert mentions(body(app_settings_entry)["properties"]["siteConfig"]["appSettings"], "allSettings")
    insights = body(module("monitoring")["resources"]["applicationInsights"])["properties"]
    assert insights["DisableLocalAuth"] is True


def test_app_settings_are_exactly_the_settings_the_code_reads() -> None:
    code = set(app_settings.ALL_SETTINGS) - set(app_settings.LOCAL_ONLY_SETTINGS)
    infra = set(main()["variables"]["appSettings"]["value"])
    assert infra == code, f"only in infra: {sorted(infra - code)}; only in the code: {sorted(code - infra)}"
    assert set(app_settings.LOCAL_ONLY_SETTINGS) <= set(app_settings.ALL_SETTINGS)
    assert app_settings.DR_STORAGE_CONNECTION in app_settings.LOCAL_ONLY_SETTINGS
    assert not infra & PLATFORM_SETTINGS
    values = main()["variables"]["appSettings"]["value"]
    assert mentions(values[app_settings.FAILOVER_CONFIG], "failoverConfig")
    assert mentions(values[app_settings.DR_STORAGE_ACCOUNT], "drStorage")
    # the host.json task hub and the timers read these settings by name
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["durableTask"]["hubName"] == f"%{app_settings.DURABLE_TASK_HUB_NAME}%"


def test_app_service_authentication_fronts_the_operator_routes_and_the_app_is_told_so() -> None:
    """One parameter turns on Easy Auth (Entra ID) and the setting that lets the app trust its headers."""
    fa = module("function-app")
    wiring = fa["modules"]["authentication"]
    assert wiring["detail"]["path"] == "app-authentication.bicep"
    assert mentions(wiring["config"]["condition"], "authClientId")  # only with an app registration
    params = body(wiring)["params"]
    assert params["clientId"] == "authClientId" and mentions(params["appName"], "functionApp")
    auth = module("app-authentication")["resources"]["authSettings"]
    assert auth["type"] == "Microsoft.Web/sites/config" and body(auth)["name"] == "authsettingsV2"
    site = module("app-authentication")["resources"][body(auth)["parent"]]
    assert site["type"] == "Microsoft.Web/sites" and site["existing"] is True
    props = body(auth)["properties"]
    assert props["platform"]["enabled"] is True
    validation = props["globalValidation"]
    assert validation["requireAuthentication"] is True and validation["unauthenticatedClientAction"] == "Return401"
    # Azure Monitor's action group can't sign in: /api/alerts keeps its function key, nothing else is excluded
    assert validation["excludedPaths"] == ["/api/alerts"]
    assert re.search(r'@bp\.route\(route="alerts", methods=\["POST"\]\)', (ROOT / "triggers/alerts.py").read_text())
    entra = props["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True and entra["registration"]["clientId"] == "clientId"
    assert "tenant().tenantId" in entra["registration"]["openIdIssuer"]
    assert props["httpSettings"]["requireHttps"] is True and props["login"]["tokenStore"]["enabled"] is False
    assert fa["parameters"]["authClientId"]["default"] == ""
    # main: the same parameter feeds the module and the setting, so they can't disagree
    assert body(main()["modules"]["app"])["params"]["authClientId"] == "operatorAuthClientId"
    setting = main()["variables"]["appSettings"]["value"][app_settings.APP_SERVICE_AUTH_ENABLED]["operator"]
    assert setting["type"] == "conditional"
    assert mentions(setting["operands"]["condition"], "operatorAuthClientId")
    assert (setting["operands"]["true_value"], setting["operands"]["false_value"]) == ("false", "true")
    assert main()["parameters"]["operatorAuthClientId"]["default"] == ""
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["operatorAuthClientId"]["value"] == "${HUBFAILOVER_OPERATOR_AUTH_CLIENT_ID}"


# -- alerts ----------------------------------------------------------------------------------------

def test_the_action_group_calls_api_alerts_with_the_common_alert_schema() -> None:
    group = body(module("action-group")["resources"]["actionGroup"])
    receivers = group["properties"]["azureFunctionReceivers"]
    assert len(receivers) == 1
    receiver = receivers[0]
    assert receiver["useCommonAlertSchema"] is True
    assert receiver["httpTriggerUrl"].endswith("/api/alerts")
    assert receiver["functionName"] == "functionName"
    assert module("action-group")["parameters"]["functionName"]["default"] == "alerts"
    for kind in ("webhookReceivers", "logicAppReceivers", "emailReceivers"):
        assert kind not in group["properties"]
    # /api/alerts is the route the app registers (triggers/alerts.py)
    assert re.search(r'@bp\.route\(route="alerts", methods=\["POST"\]\)', (ROOT / "triggers/alerts.py").read_text())


def test_every_alert_rule_reports_to_the_action_group() -> None:
    alerts = module("pair-alerts")["resources"]
    kinds = {name: res["type"] for name, res in alerts.items()}
    assert kinds == {
        "resourceHealth": "Microsoft.Insights/activityLogAlerts",
        "serviceHealth": "Microsoft.Insights/activityLogAlerts",
        "notRespondingRuns": "Microsoft.Insights/metricAlerts",
        "aiServicesSuccessRate": "Microsoft.Insights/metricAlerts",
    }
    variables = module("pair-alerts")["variables"]
    for name, res in alerts.items():
        props = body(res)["properties"]
        actions = props["actions"]
        if isinstance(actions, str):  # a variable shared by the activity-log alerts
            actions = variables[actions]["value"]
        assert mentions(actions, "actionGroupId"), name
        assert props["enabled"] is True


def test_resource_health_service_health_and_metric_conditions() -> None:
    alerts = module("pair-alerts")["resources"]
    health = body(alerts["resourceHealth"])["properties"]
    assert {"field": "category", "equals": "ResourceHealth"} in health["condition"]["allOf"]
    statuses = {c["equals"] for c in walk(health["condition"]) if isinstance(c, dict)
                and c.get("field") == "properties.currentHealthStatus"}
    assert statuses == {"Unavailable", "Degraded"}
    assert mentions(health["scopes"], "workspaceId") and mentions(health["scopes"], "aiServicesAccountId")
    service = body(alerts["serviceHealth"])["properties"]
    assert {"field": "category", "equals": "ServiceHealth"} in service["condition"]["allOf"]
    region = next(c for c in service["condition"]["allOf"]
                  if c.get("field") == "properties.impactedServices[*].ImpactedRegions[*].RegionName")
    assert region["containsAny"] == "regionNames"
    metric = body(alerts["notRespondingRuns"])["properties"]
    criterion = metric["criteria"]["allOf"][0]
    assert criterion["metricName"] == "Not Responding Runs"
    assert criterion["metricNamespace"] == "Microsoft.MachineLearningServices/workspaces"
    assert metric["scopes"] == ["workspaceId"]


def test_main_wires_alerts_per_pair_to_the_action_group() -> None:
    pair_alerts = main()["modules"]["pairAlerts"]
    assert pair_alerts["config"]["loop_type"]["detail"]["array_name"] == "alertPairs"
    params = body(pair_alerts)["params"]
    assert mentions(params["actionGroupId"], "actionGroup")
    assert mentions(params["workspaceId"], "primaryWorkspaceId")
    assert mentions(params["primaryRegion"], "primaryRegion")
    assert mentions(params["aiServicesAccountId"], "aiServicesAccountId")


def test_a_standby_not_ready_alerts_the_operators_never_api_alerts() -> None:
    rule = body(module("readiness-alert")["resources"]["rule"])
    assert module("readiness-alert")["resources"]["rule"]["type"] == "Microsoft.Insights/scheduledQueryRules"
    props = rule["properties"]
    assert props["scopes"] == ["applicationInsightsId"] and mentions(props["actions"], "actionGroupId")
    assert props["autoMitigate"] is True and props["enabled"] is True
    query = module("readiness-alert")["variables"]["query"]["value"]
    # the gauge failover/telemetry.py sets, by its attribute names
    from failover import telemetry

    assert f'name == "{telemetry.READINESS_METRIC}"' in query
    assert f'customDimensions["{telemetry.PREFIX}pair"]' in query and "value < 1" in query
    criterion = props["criteria"]["allOf"][0]
    assert criterion["dimensions"][0]["name"] == "pair"
    readiness = body(main()["modules"]["readinessAlert"])["params"]
    assert "operatorActionGroup" in str(readiness["actionGroupId"])
    assert mentions(readiness["applicationInsightsId"], "monitoring")
    ops = body(module("operator-action-group")["resources"]["actionGroup"])["properties"]
    assert "azureFunctionReceivers" not in ops and "webhookReceivers" not in ops
    assert mentions(ops["emailReceivers"], "emails")


def test_opentelemetry_from_the_host_and_the_worker_with_durable_tracing_v2() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    assert host["extensions"]["durableTask"]["tracing"] == {"distributedTracingEnabled": True, "version": "V2"}
    platform = module("function-app")["variables"]["platformSettings"]["value"]
    assert platform["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "true"
    requirements = (ROOT / "requirements.txt").read_text()
    constraints = (ROOT / "constraints.txt").read_text().splitlines()
    for package in ("azure-monitor-opentelemetry", "opentelemetry-api", "opentelemetry-sdk"):
        pinned = re.search(rf"^{package}==(\S+)$", requirements, re.M)
        assert pinned, package
        assert f"{package}=={pinned.group(1)}" in constraints, package


# -- role assignments ----------------------------------------------------------------------------------

def role_assignments() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    found = []
    for path in BICEP_FILES:
        doc = parsed(str(path.relative_to(INFRA)))
        for name, res in doc.get("resources", {}).items():
            if res["type"] == "Microsoft.Authorization/roleAssignments":
                found.append((path.name, name, body(res), doc))
    return found


def test_role_assignments_have_guid_names_and_single_resource_scopes() -> None:
    found = role_assignments()
    assert {f for f, *_ in found} == {"storage-roles.bicep", "workspace-roles.bicep",
                                       "log-analytics-roles.bicep", "insights-roles.bicep",
                                       "key-vault-roles.bicep"}
    for file, name, res, doc in found:
        assert res["name"]["function"]["type"] == "guid", (file, name)
        guid_args = res["name"]["function"]["parameters"]
        assert mentions(guid_args, "principalId"), (file, name)
        scope = res["scope"]
        assert isinstance(scope, str), (file, name, scope)
        target = doc["resources"][scope]
        assert target["existing"] is True, (file, name)
        assert target["type"] not in {"Microsoft.Resources/resourceGroups", "Microsoft.Resources/subscriptions"}
        assert mentions(res["properties"]["roleDefinitionId"], "subscription_resource_id")
    assert "roleAssignments" not in json.dumps(main().get("resources", {}))


def test_no_module_deploys_at_subscription_scope() -> None:
    for name, mod in main()["modules"].items():
        scope = body(mod)["scope"]
        assert scope == "rg" or scope["function"]["type"] == "resource_group", name


def test_the_identity_gets_only_the_roles_it_uses() -> None:
    modules = main()["modules"]
    roles = main()["variables"]["roles"]["value"]
    assert {k: roles[k] for k in ROLE} == ROLE
    assert not set(roles.values()) & BROAD_ROLES

    def granted(mod: str) -> set[str]:
        params = body(modules[mod])["params"]
        ids = params.get("roleDefinitionIds") or [params["roleDefinitionId"]]
        return {i if isinstance(i, str) else i["operator"]["operands"]["operand_2"] for i in ids}

    assert granted("hostStorageRoles") == {"storageBlobDataOwner", "storageQueueDataContributor",
                                           "storageTableDataContributor"}
    assert granted("drStorageRoles") == {"storageTableDataContributor", "storageBlobDataContributor"}
    assert granted("operatorRoles") == {"storageTableDataReader", "storageBlobDataReader"}
    assert granted("insightsRoles") == {"monitoringMetricsPublisher"}
    assert granted("logAnalyticsRoles") == {"logAnalyticsReader"}
    assert granted("keyVaultRoles") == {"keyVaultSecretsUser"}
    assert granted("workspaceRoles") == {"workspaceRoleDefinitionId"}
    assert main()["parameters"]["workspaceRoleDefinitionId"]["default"] == AZUREML_DATA_SCIENTIST
    assert body(modules["drStorageRoles"])["params"]["storageAccountName"] != body(
        modules["hostStorageRoles"])["params"]["storageAccountName"]


def test_workspace_roles_cover_every_azureml_hub_of_the_config() -> None:
    variables = main()["variables"]
    assert mentions(variables["configHubs"]["value"], "configPrimaries")
    assert mentions(variables["configHubs"]["value"], "configSecondaries")
    workspace_roles = main()["modules"]["workspaceRoles"]["config"]
    assert workspace_roles["loop_type"]["detail"]["array_name"] == "workspaceKeys"
    assert mentions(workspace_roles["condition"], "azureml|")


def test_key_vaults_of_the_config_grant_the_identity_secrets_user() -> None:
    """pairs[].secrets.key_vault given by ARM id: the identity may read (only) its secrets."""
    variables = main()["variables"]
    assert mentions(variables["pairKeyVaultKeys"]["value"], "configPairs")
    assert "secrets" in json.dumps(variables["pairKeyVaultKeys"]["value"])
    roles = main()["modules"]["keyVaultRoles"]["config"]
    assert roles["loop_type"]["detail"]["array_name"] == "keyVaultKeys"
    assert mentions(roles["condition"], "yes|")
    vault = module("key-vault-roles")["resources"]["vault"]
    assert vault["type"] == "Microsoft.KeyVault/vaults" and vault["existing"] is True
    assert "KEY_VAULT_ROLE_KEYS" in main()["outputs"]


# -- azd -----------------------------------------------------------------------------------------------

def test_azure_yaml_declares_the_function_service() -> None:
    manifest = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert manifest["services"]["api"] == {"project": ".", "language": "python", "host": "function"}
    assert manifest.get("infra", {}).get("path", "infra") == "infra"


def test_parameters_file_feeds_every_required_parameter_from_the_azd_environment() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = main()["parameters"]
    assert set(parameters) <= set(declared)
    required = {name for name, p in declared.items() if p.get("default") is None}
    assert required <= set(parameters), f"not fed by azd: {sorted(required - set(parameters))}"
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["secondaryRegion"]["value"] == "${AZURE_LOCATION}"
    assert parameters["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    text = json.dumps(parameters)
    assert "${AZURE_PRIMARY_REGION}" in text and "${FAILOVER_CONFIG_JSON}" in text
