"""The guardrails dry-run over the REST API: ``POST /api/guardrails/dry-run/``.

The same run as the page (``portal.dry_run``), for the same people: platform admins, auditors and the
developers (and up) of any team. The answer holds the text each finding matched, since the caller sent it;
nothing of the request is stored or logged.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aiplatform.permissions import require
from portal import dry_run
from portal.permissions import may_dry_run
from registry.policy_document import PolicyDocumentInvalid


class DryRunRequestSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=dry_run.MAX_TEXT_CHARS, trim_whitespace=False,
                                 help_text=f"The text to run the policy on (up to {dry_run.MAX_TEXT_CHARS:,} "
                                           "characters).")
    policy = serializers.CharField(required=False, max_length=63,
                                   help_text="The name of an enabled policy you may try.")
    document = serializers.CharField(required=False, max_length=dry_run.MAX_DOCUMENT_CHARS, trim_whitespace=False,
                                     help_text="An ad-hoc policy document (YAML or JSON), used instead of policy.")

    def validate(self, data: dict) -> dict:
        user = self.context["request"].user
        if (data.get("document") or "").strip():
            try:
                data["spec"] = dry_run.policy_from_document(data["document"])
            except PolicyDocumentInvalid as exc:
                raise serializers.ValidationError({"document": exc.messages}) from None
        elif data.get("policy"):
            data["spec"] = dry_run.policy_named(user, data["policy"])
            if data["spec"] is None:
                raise serializers.ValidationError({"policy": f"No enabled policy {data['policy']!r} you may try."})
        else:
            raise serializers.ValidationError({"policy": "Name a policy, or send a policy document."})
        return data


class FindingSerializer(serializers.Serializer):
    stage = serializers.CharField()
    detector = serializers.CharField()
    label = serializers.CharField()
    action = serializers.CharField()
    policy = serializers.CharField()
    start = serializers.IntegerField(help_text="Index in the text (input) or in upstream_text (output).")
    end = serializers.IntegerField()
    text = serializers.CharField(help_text="The text it matched.")


class DryRunErrorBodySerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    code = serializers.CharField()
    param = serializers.CharField(allow_null=True)


class DryRunErrorSerializer(serializers.Serializer):
    error = DryRunErrorBodySerializer()


class DryRunResultSerializer(serializers.Serializer):
    policy = serializers.CharField(source="policy.name")
    version = serializers.IntegerField(source="policy.version")
    findings = FindingSerializer(many=True)
    blocked = FindingSerializer(allow_null=True, help_text="The finding that blocks the call, if one does.")
    upstream_text = serializers.CharField(allow_null=True, help_text="What would be sent upstream (null: blocked).")
    caller_text = serializers.CharField(allow_null=True,
                                        help_text="What the caller would get if the model echoed upstream_text "
                                                  "(null: blocked).")
    error = DryRunErrorSerializer(allow_null=True, help_text="The 403 body the caller would get when blocked.")
    active = serializers.DictField(child=serializers.BooleanField(), help_text="Which detectors run here.")


class DryRunView(APIView):
    """Run a policy on a text as the gateway would: the findings, the text sent upstream, the caller's answer."""

    @extend_schema(request=DryRunRequestSerializer, responses=DryRunResultSerializer)
    def post(self, request: Request) -> Response:
        if not may_dry_run(request.user):
            require(request.user, "guardrails.dry_run")  # audits the refusal and raises
        body = DryRunRequestSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        report = dry_run.run(body.validated_data["spec"], body.validated_data["text"])
        response = Response(DryRunResultSerializer(report).data)
        response["Cache-Control"] = "no-store"
        return response
