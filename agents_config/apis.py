"""Agent endpoints of the REST API (``/api/v1/agents/...``).

Views are thin: they resolve the agent inside the caller's tenant (another tenant's agent is a
404), check the action (roles table + guardian object permission), call a service or
selector and shape the response. Domain errors become the shared error shape in
``tenants.platform.exceptions``.

``config_id`` is the agent's database key as a string: stable for the agent's lifetime.
Draft responses carry ``ETag: "<config_id>-<revision>"``; send it back as ``If-Match`` on
draft writes to refuse lost updates with 412.
"""

from __future__ import annotations

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from agents_config.agent_templates import agent_templates
from agents_config.contracts import SEMVER_PATTERN, SLUG_PATTERN
from agents_config.demo_agent import demo_document
from agents_config.diff import document_diff
from agents_config.models import Agent, AgentVersion
from agents_config.selectors import (
    agent_draft_document,
    agent_draft_document_cached,
    agent_draft_head,
    agent_draft_snapshot,
    agent_for_tenant,
    agent_version_by_label,
    agent_versions,
    agents_filtered,
    agents_for_tenant,
    version_export_document,
)
from agents_config.serializers import (
    AgentCreatedSerializer,
    AgentListQuerySerializer,
    AgentStatusSerializer,
    AgentSummarySerializer,
    AgentTemplateListSerializer,
    AgentUpdatedSerializer,
    ConfigQuerySerializer,
    CreateQuerySerializer,
    FromTemplateBodySerializer,
    ImportedSerializer,
    ImportQuerySerializer,
    PublishedSerializer,
    PublishInputSerializer,
    RollbackInputSerializer,
    RolledBackSerializer,
    SchemaFieldStatusSerializer,
    TracingStatusSerializer,
    TracingToggleQuerySerializer,
    VersionDetailSerializer,
    VersionDiffSerializer,
    VersionListSerializer,
)
from agents_config.services import (
    SchemaFieldMissing,
    UnknownTemplate,
    agent_add_schema_field,
    agent_create,
    agent_create_from_template,
    agent_delete_if_idle,
    agent_import,
    agent_publish,
    agent_remove_schema_field,
    agent_rollback,
    agent_set_tracing,
    agent_update_sections,
)
from agents_config.templating import IDENTIFIER_PATTERN
from agents_config.versioning import DRAFT, VERSION_OR_DRAFT_PATTERN
from tenants.api_base import (
    BODY_ERRORS,
    ApiPagination,
    NoQuerySerializer,
    TenantAPIView,
    error_responses,
    parse_body,
    parse_query,
)
from tenants.permissions import (
    api_key_role_group_name,
    has_object_permission,
    visible_objects,
)
from tenants.platform.exceptions import PreconditionFailed
from tenants.roles import Action

SLUG = re.compile(SLUG_PATTERN)
SEMVER = re.compile(SEMVER_PATTERN)
FIELD_NAME_PATTERN = IDENTIFIER_PATTERN

AGENT_ID_PARAM = OpenApiParameter(
    "agent_id",
    str,
    OpenApiParameter.PATH,
    pattern=SLUG_PATTERN,
    description="The agent's slug.",
    examples=[OpenApiExample("Seed agent", value="interview-agent-v1")],
)
IF_MATCH_PATTERN = r'^(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)$'
IF_MATCH = re.compile(IF_MATCH_PATTERN)
IF_MATCH_PARAM = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    pattern=IF_MATCH_PATTERN,
    description='The `ETag` of a previous response (e.g. `"12-3"`), several separated by commas, '
    "or `*`. Without it the write is unconditional; a stale tag is refused with 412 and "
    "nothing is stored; an empty or malformed value (e.g. an unquoted tag) is a 400.",
)
ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=True,
    description='Version of the draft: "<config_id>-<revision>".',
)
DOCUMENT_DESCRIPTION = (
    "An agent configuration document in the seed's `AgentConfiguration` shape (`agent_id`, "
    "`agent_type`, `name`, `version`, `enabled`, `reload_policy` and the `*_config` "
    "sections), validated whole by the contracts; unknown keys are errors."
)
DOCUMENT_RESPONSE = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=DOCUMENT_DESCRIPTION
    + " Draft responses add `config_id`, `published_version` and `revision`.",
)
SEED_FIELD = {
    "field_name": "pronunciation_score",
    "field_type": "int",
    "description": "Pronunciation accuracy score (0-100)",
    "required": False,
    "default": 0,
    "constraints": {"ge": 0, "le": 100},
    "metadata": {"use_in_tts": False, "hidden": False},
}


def config_warnings(agent: Agent) -> list[dict[str, str]]:
    """The contract warnings of the agent's last write (``services.agents._write_document``)."""
    return [warning.as_dict() for warning in getattr(agent, "config_warnings", [])]


def agent_etag(agent: Agent) -> str:
    return f'"{agent.pk}-{agent.revision}"'


def _with_etag(response: Response, agent: Agent) -> Response:
    response["ETag"] = agent_etag(agent)
    return response


class AgentObjectAPIView(TenantAPIView):
    """An endpoint about one agent: looked up in the caller's tenant, then checked."""

    object_level = True

    def get_agent(self, agent_id: str) -> Agent:
        agent = (
            agent_for_tenant(tenant=self.tenant, agent_id=agent_id)
            if SLUG.match(agent_id)
            else None
        )
        if agent is None:
            raise NotFound(f"Agent {agent_id!r} not found.")
        self.check_object_permissions(self.request, agent)
        return agent

    def get_version(self, agent: Agent, label: str) -> AgentVersion:
        version = (
            agent_version_by_label(agent=agent, version=label) if SEMVER.match(label) else None
        )
        if version is None:
            raise NotFound(f"Agent {agent.agent_id!r} has no version {label!r}.")
        return version

    def expected_revision(self, agent: Agent) -> int | None:
        """The revision ``If-Match`` vouches for (None without the header); 412 for a stale
        tag, 400 for a header that is not ``*`` or quoted entity tags (RFC 9110)."""
        header = self.request.headers.get("If-Match")
        if header is None:
            return None
        if not IF_MATCH.match(header.strip()):
            raise ValidationError(
                {"If-Match": ['Expected "*" or quoted ETags such as "12-3" (from a response).']}
            )
        tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
        if "*" in tags or agent_etag(agent) in tags:
            return agent.revision
        raise PreconditionFailed()


class AgentConfigCreateApi(TenantAPIView):
    """Create an agent (admin role)."""

    method_actions = {"POST": Action.CREATE}

    @extend_schema(
        operation_id="agent_config_create",
        tags=["agents"],
        summary="Create an agent from a configuration document",
        request=OpenApiTypes.OBJECT,
        responses={
            201: OpenApiResponse(AgentCreatedSerializer, description="Created."),
            **error_responses(*BODY_ERRORS, 409),
        },
        parameters=[CreateQuerySerializer, ETAG_HEADER],
        description=DOCUMENT_DESCRIPTION
        + " Admin role only; a duplicate agent_id is a 409. With `?template=<id>` the body is "
        "`agent_id`, optional `name` and any section overrides (deep-merged into the "
        "template's document).",
        examples=[
            OpenApiExample("Demo agent", value=demo_document(), request_only=True),
            OpenApiExample(
                "From the sales template (?template=sales)",
                value={
                    "agent_id": "sales-agent",
                    "name": "Acme sales",
                    "prompt_config": {"dynamic_vars": {"company_name": "Acme"}},
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        query = parse_query(CreateQuerySerializer, request)
        if query.get("template"):
            agent = self._create_from_template(request, query["template"])
        else:
            agent = agent_create(
                tenant=self.tenant,
                data=request.data,
                role=self.context.role,
                actor=self.actor,
            )
        data = AgentCreatedSerializer(
            {
                "status": "created",
                "config_id": str(agent.pk),
                "agent_id": agent.agent_id,
                "revision": agent.revision,
                "warnings": config_warnings(agent),
            }
        ).data
        return _with_etag(Response(data, status=status.HTTP_201_CREATED), agent)

    def _create_from_template(self, request: Request, template_id: str) -> Agent:
        identity = parse_body(FromTemplateBodySerializer, request)
        overrides = {k: v for k, v in request.data.items() if k not in ("agent_id", "name")}
        try:
            return agent_create_from_template(
                tenant=self.tenant,
                template_id=template_id,
                agent_id=identity["agent_id"],
                name=identity.get("name") or None,
                overrides=overrides,
                role=self.context.role,
                actor=self.actor,
            )
        except UnknownTemplate:
            raise ValidationError(
                {"template": [f"Unknown template; known: {', '.join(sorted(agent_templates()))}."]}
            ) from None


class AgentTemplateListApi(TenantAPIView):
    """The agent templates new agents can start from (any role)."""

    @extend_schema(
        operation_id="agent_template_list",
        tags=["agents"],
        summary="Agent templates (built-in and the deployment's AGENT_TEMPLATE_DIRS)",
        responses={200: AgentTemplateListSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        parse_query(NoQuerySerializer, request)
        templates = [
            {
                "template_id": t.template_id,
                "title": t.title,
                "description": t.description,
                "agent_type": t.agent_type,
                "document": t.document,
            }
            for t in sorted(agent_templates().values(), key=lambda t: t.template_id)
        ]
        return Response(AgentTemplateListSerializer({"templates": templates}).data)


class AgentConfigApi(AgentObjectAPIView):
    """Read, partially update or delete one agent's configuration."""

    @extend_schema(
        operation_id="agent_config_retrieve",
        tags=["agents"],
        summary="The agent's draft (or a published version with ?version=)",
        parameters=[AGENT_ID_PARAM, ConfigQuerySerializer, ETAG_HEADER],
        responses={200: DOCUMENT_RESPONSE, **error_responses(400, 404)},
    )
    def get(self, request: Request, agent_id: str) -> Response:
        group_name = api_key_role_group_name(self.context, Agent)
        if not request.query_params and group_name is not None and SLUG.match(agent_id):
            return self.cached_draft(agent_id, group_name)
        agent = self.get_agent(agent_id)
        query = parse_query(ConfigQuerySerializer, request)
        published = agent.published_version.version if agent.published_version else None
        if query.get("version"):
            document = version_export_document(self.get_version(agent, query["version"]))
            return Response({**document, "published_version": published})
        document = {
            **agent_draft_document(agent),
            "config_id": str(agent.pk),
            "published_version": published,
            "revision": agent.revision,
        }
        return _with_etag(Response(document), agent)

    def cached_draft(self, agent_id: str, group_name: str) -> Response:
        """The hot path for API keys: one query finds the agent and checks the object
        permission; the document is rendered once per revision (``agent_draft_document_cached``).
        Same answers as ``get_agent`` + ``agent_draft_document``: 404, then 403, then 200."""
        head = agent_draft_head(tenant=self.tenant, agent_id=agent_id, group_name=group_name)
        if head is None:
            raise NotFound(f"Agent {agent_id!r} not found.")
        if not head["readable"]:
            raise PermissionDenied(f"You may not {Action.READ} this agent.")
        document = agent_draft_document_cached(tenant=self.tenant, head=head)
        response = Response(document)
        response["ETag"] = f'"{document["config_id"]}-{document["revision"]}"'
        return response

    @extend_schema(
        operation_id="agent_config_update",
        tags=["agents"],
        summary="Partially update the draft (sections deep-merged, validated whole)",
        description="Objects merge recursively; lists (e.g. `schema_config.fields`) replace "
        "wholesale, which is how fields are reordered. `config_id`, `published_version` and "
        "`revision` are ignored, so a fetched draft can be sent back as is.",
        request=OpenApiTypes.OBJECT,
        parameters=[AGENT_ID_PARAM, IF_MATCH_PARAM, ETAG_HEADER],
        responses={
            200: AgentUpdatedSerializer,
            **error_responses(*BODY_ERRORS, 404, 412),
        },
    )
    def put(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        updated = agent_update_sections(
            agent=agent,
            partial=request.data,
            expected_revision=self.expected_revision(agent),
            role=self.context.role,
            actor=self.actor,
        )
        data = {
            "status": "updated",
            "agent_id": updated.agent_id,
            "revision": updated.revision,
            "warnings": config_warnings(updated),
        }
        return _with_etag(Response(AgentUpdatedSerializer(data).data), updated)

    @extend_schema(
        operation_id="agent_config_destroy",
        tags=["agents"],
        summary="Delete the agent (refused while it has active sessions)",
        parameters=[AGENT_ID_PARAM],
        responses={200: AgentStatusSerializer, **error_responses(404, 409)},
    )
    def delete(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        agent_delete_if_idle(agent=agent, actor=self.actor)
        return Response(AgentStatusSerializer({"status": "deleted", "agent_id": agent_id}).data)


class SchemaFieldCreateApi(AgentObjectAPIView):
    """Add a field to the agent's output schema."""

    @extend_schema(
        operation_id="agent_schema_field_create",
        tags=["agents"],
        summary="Append a field to the draft's output schema",
        request=OpenApiTypes.OBJECT,
        parameters=[AGENT_ID_PARAM, IF_MATCH_PARAM, ETAG_HEADER],
        examples=[OpenApiExample("Seed example", value=SEED_FIELD, request_only=True)],
        responses={
            200: SchemaFieldStatusSerializer,
            **error_responses(*BODY_ERRORS, 404, 409, 412),
        },
    )
    def post(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        field = request.data
        updated = agent_add_schema_field(
            agent=agent,
            field=field,
            expected_revision=self.expected_revision(agent),
            actor=self.actor,
        )
        data = {
            "status": "field_added",
            "agent_id": updated.agent_id,
            "revision": updated.revision,
            "field_name": field["field_name"],
            "warnings": config_warnings(updated),
        }
        return _with_etag(Response(SchemaFieldStatusSerializer(data).data), updated)


class SchemaFieldApi(AgentObjectAPIView):
    """Remove a field from the agent's output schema."""

    method_actions = {"DELETE": Action.UPDATE}  # removing a field edits the agent

    @extend_schema(
        operation_id="agent_schema_field_destroy",
        tags=["agents"],
        summary="Remove a field from the draft's output schema",
        parameters=[
            AGENT_ID_PARAM,
            OpenApiParameter(
                "field_name",
                str,
                OpenApiParameter.PATH,
                pattern=FIELD_NAME_PATTERN,
                examples=[OpenApiExample("Seed field", value="pronunciation_score")],
            ),
            IF_MATCH_PARAM,
            ETAG_HEADER,
        ],
        responses={200: SchemaFieldStatusSerializer, **error_responses(400, 404, 412)},
    )
    def delete(self, request: Request, agent_id: str, field_name: str) -> Response:
        agent = self.get_agent(agent_id)
        try:
            updated = agent_remove_schema_field(
                agent=agent,
                field_name=field_name,
                expected_revision=self.expected_revision(agent),
                actor=self.actor,
            )
        except SchemaFieldMissing:
            raise NotFound(f"The schema has no field {field_name!r}.") from None
        data = {
            "status": "field_removed",
            "agent_id": updated.agent_id,
            "revision": updated.revision,
            "field_name": field_name,
            "warnings": config_warnings(updated),
        }
        return _with_etag(Response(SchemaFieldStatusSerializer(data).data), updated)


class TracingToggleApi(AgentObjectAPIView):
    """Switch the agent's tracing on or off."""

    @extend_schema(
        operation_id="agent_tracing_toggle",
        tags=["agents"],
        summary="Switch tracing on or off",
        request=None,
        parameters=[
            AGENT_ID_PARAM,
            OpenApiParameter(
                "enabled",
                str,
                OpenApiParameter.QUERY,
                required=True,
                enum=["true", "false", "True", "False", "1", "0"],
            ),
            IF_MATCH_PARAM,
            ETAG_HEADER,
        ],
        responses={200: TracingStatusSerializer, **error_responses(400, 404, 412)},
    )
    def post(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        enabled = parse_query(TracingToggleQuerySerializer, request)["enabled"]
        updated = agent_set_tracing(
            agent=agent,
            enabled=enabled,
            expected_revision=self.expected_revision(agent),
            actor=self.actor,
        )
        data = {
            "status": "tracing_updated",
            "agent_id": updated.agent_id,
            "revision": updated.revision,
            "enabled": enabled,
            "warnings": config_warnings(updated),
        }
        return _with_etag(Response(TracingStatusSerializer(data).data), updated)


class AgentListPagination(ApiPagination):
    results_key = "agents"


class AgentListApi(TenantAPIView):
    """List the tenant's agents that you may read."""

    # drf-spectacular reads the paginator from here to wrap the list schema.
    pagination_class = AgentListPagination

    @extend_schema(
        operation_id="agent_list",
        tags=["agents"],
        summary="The agents you may read, paginated",
        parameters=[AgentListQuerySerializer],
        responses={
            200: AgentSummarySerializer(many=True),
            **error_responses(400, 404),
        },
    )
    def get(self, request: Request) -> Response:
        query = parse_query(AgentListQuerySerializer, request)
        agents = agents_filtered(
            agents=visible_objects(self.context, agents_for_tenant(tenant=self.tenant)),
            agent_type=query.get("agent_type"),
            enabled=query.get("enabled"),
            search=query.get("search"),
        )
        return self.paginated(agents, AgentSummarySerializer)


class PublishApi(AgentObjectAPIView):
    """Publish the draft as a new version (semver bump or explicit version)."""

    @extend_schema(
        operation_id="agent_publish",
        tags=["versions"],
        summary="Publish the draft as a new immutable version",
        request=PublishInputSerializer,
        parameters=[AGENT_ID_PARAM],
        responses={201: PublishedSerializer, **error_responses(*BODY_ERRORS, 404, 409)},
    )
    def post(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        body = parse_body(PublishInputSerializer, request)
        version = agent_publish(
            agent=agent,
            bump_kind=body["bump"],
            version=body.get("version"),
            note=body["note"],
            actor=self.actor,
        )
        data = {
            "status": "published",
            "agent_id": agent.agent_id,
            "version": version.version,
            "checksum": version.checksum,
            "note": version.note,
        }
        return Response(PublishedSerializer(data).data, status=status.HTTP_201_CREATED)


class VersionListApi(AgentObjectAPIView):
    """List the agent's published versions."""

    @extend_schema(
        operation_id="agent_versions_list",
        tags=["versions"],
        summary="Published versions, newest first",
        parameters=[AGENT_ID_PARAM],
        responses={200: VersionListSerializer, **error_responses(404)},
    )
    def get(self, request: Request, agent_id: str) -> Response:
        parse_query(NoQuerySerializer, request)
        agent = self.get_agent(agent_id)
        versions = agent_versions(agent=agent).select_related("agent", "rolled_back_from")
        data = {
            "agent_id": agent.agent_id,
            "published_version": agent.published_version.version
            if agent.published_version
            else None,
            "versions": versions.order_by("-major", "-minor", "-patch"),
        }
        return Response(VersionListSerializer(data).data)


def _version_param(name: str, example: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        str,
        OpenApiParameter.PATH,
        pattern=SEMVER_PATTERN,
        examples=[OpenApiExample("Published version", value=example)],
    )


VERSION_PARAM = _version_param("version", "1.0.0")


class VersionDetailApi(AgentObjectAPIView):
    """One published version with its document."""

    @extend_schema(
        operation_id="agent_version_retrieve",
        tags=["versions"],
        summary="One published version with its document",
        parameters=[AGENT_ID_PARAM, VERSION_PARAM],
        responses={200: VersionDetailSerializer, **error_responses(404)},
    )
    def get(self, request: Request, agent_id: str, version: str) -> Response:
        parse_query(NoQuerySerializer, request)
        agent = self.get_agent(agent_id)
        return Response(VersionDetailSerializer(self.get_version(agent, version)).data)


class VersionDiffApi(AgentObjectAPIView):
    """Field-level diff between two published versions."""

    @extend_schema(
        operation_id="agent_version_diff",
        tags=["versions"],
        summary="Field-level changes from version a to version b",
        parameters=[
            AGENT_ID_PARAM,
            _version_param("a", "1.0.0"),
            OpenApiParameter(
                "b",
                str,
                OpenApiParameter.PATH,
                pattern=VERSION_OR_DRAFT_PATTERN,
                examples=[
                    OpenApiExample("Published version", value="1.1.0"),
                    OpenApiExample("The draft", value=DRAFT),
                ],
            ),
        ],
        description="`b` may be `draft`: the changes from version `a` to the current draft.",
        responses={200: VersionDiffSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request, agent_id: str, a: str, b: str) -> Response:
        parse_query(NoQuerySerializer, request)
        agent = self.get_agent(agent_id)
        old = self.get_version(agent, a)
        if b == DRAFT:
            # The draft as publishing would store it; an invalid draft is a 400 naming fields.
            new_document, new_label = agent_draft_snapshot(agent), DRAFT
        else:
            new = self.get_version(agent, b)
            new_document, new_label = new.document, new.version
        data = {
            "agent_id": agent.agent_id,
            "from_version": old.version,
            "to_version": new_label,
            "changes": [c.as_dict() for c in document_diff(old.document, new_document)],
        }
        return Response(VersionDiffSerializer(data).data)


class RollbackApi(AgentObjectAPIView):
    """Roll back to an older version (published as a new patch version)."""

    @extend_schema(
        operation_id="agent_rollback",
        tags=["versions"],
        summary="Re-publish an older version as a new patch version (the draft follows)",
        request=RollbackInputSerializer,
        parameters=[AGENT_ID_PARAM],
        responses={201: RolledBackSerializer, **error_responses(*BODY_ERRORS, 404, 409)},
    )
    def post(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        body = parse_body(RollbackInputSerializer, request)
        target = (
            agent_version_by_label(agent=agent, version=body["version"])
            if SEMVER.match(body["version"].strip())
            else None
        )
        if target is None:
            raise ValidationError({"version": [f"No published version {body['version']!r}."]})
        version = agent_rollback(
            agent=agent,
            to_version=target,
            note=body["note"],
            role=self.context.role,
            actor=self.actor,
        )
        data = {
            "status": "rolled_back",
            "agent_id": agent.agent_id,
            "version": version.version,
            "checksum": version.checksum,
            "note": version.note,
            "rolled_back_from": target.version,
        }
        return Response(RolledBackSerializer(data).data, status=status.HTTP_201_CREATED)


class ExportApi(AgentObjectAPIView):
    """Export the draft or a version as a JSON document."""

    @extend_schema(
        operation_id="agent_export",
        tags=["import-export"],
        summary="The draft (or ?version=) as an importable JSON document",
        parameters=[AGENT_ID_PARAM, ConfigQuerySerializer],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description=DOCUMENT_DESCRIPTION),
            **error_responses(400, 404),
        },
    )
    def get(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        query = parse_query(ConfigQuerySerializer, request)
        if query.get("version"):
            document = version_export_document(self.get_version(agent, query["version"]))
        else:
            document = agent_draft_document(agent)
        return Response(document)


class ImportApi(TenantAPIView):
    """Import a JSON document (admin role)."""

    method_actions = {"POST": Action.CREATE}

    @extend_schema(
        operation_id="agent_import",
        tags=["import-export"],
        summary="Import an exported document (create, or update with ?replace=true)",
        request=OpenApiTypes.OBJECT,
        parameters=[ImportQuerySerializer],
        examples=[OpenApiExample("Demo agent", value=demo_document(), request_only=True)],
        responses={
            200: OpenApiResponse(ImportedSerializer, description="Existing agent replaced."),
            201: OpenApiResponse(ImportedSerializer, description="Agent created."),
            **error_responses(*BODY_ERRORS, 409),
        },
    )
    def post(self, request: Request) -> Response:
        query = parse_query(ImportQuerySerializer, request)
        data = request.data
        agent_id = data.get("agent_id") if isinstance(data, dict) else None
        existing = (
            agent_for_tenant(tenant=self.tenant, agent_id=agent_id)
            if isinstance(agent_id, str) and SLUG.match(agent_id)
            else None
        )
        if (
            existing is not None
            and query["replace"]
            and not has_object_permission(self.context, Action.UPDATE, existing)
        ):
            raise PermissionDenied("You may not update this agent.")
        agent = agent_import(
            tenant=self.tenant,
            data=data,
            replace=query["replace"],
            publish=query["publish"],
            role=self.context.role,
            actor=self.actor,
        )
        agent.refresh_from_db()
        published = agent.published_version.version if agent.published_version else None
        body = {
            "status": "replaced" if existing is not None else "imported",
            "config_id": str(agent.pk),
            "agent_id": agent.agent_id,
            "revision": agent.revision,
            "published_version": published,
            "warnings": config_warnings(agent),
        }
        code = status.HTTP_200_OK if existing is not None else status.HTTP_201_CREATED
        return Response(ImportedSerializer(body).data, status=code)
