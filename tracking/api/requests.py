"""Validating what clients send: the legacy query parameters and the 3.2 batch body."""

from typing import Any

from rest_framework import serializers

MAX_BATCH = 35
ZIP5 = r"^\d{5}$"


class LegacyQuerySerializer(serializers.Serializer):
    expand = serializers.ChoiceField(choices=["SUMMARY", "DETAIL"], default="SUMMARY")
    mailingDate = serializers.DateField(  # noqa: N815 - wire name
        required=False, input_formats=["%Y-%m-%d"], help_text="The date the package was mailed."
    )
    destinationZIPCode = serializers.RegexField(  # noqa: N815
        ZIP5, required=False, error_messages={"invalid": "Use a 5-digit ZIP Code."}
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if "expand" in data and isinstance(data.get("expand"), str):
            data = data.copy()
            data["expand"] = data["expand"].upper()
        return super().to_internal_value(data)


class TrackingRequestItemSerializer(serializers.Serializer):
    trackingNumber = serializers.CharField(max_length=64)  # noqa: N815
    mailingDate = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])  # noqa: N815
    destinationZIPCode = serializers.RegexField(  # noqa: N815
        ZIP5, required=False, error_messages={"invalid": "Use a 5-digit ZIP Code."}
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # The 3.2 spec closes the object (additionalProperties: false): say which key is wrong.
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        key: [
                            "Unknown field; the fields are trackingNumber, mailingDate and "
                            "destinationZIPCode."
                        ]
                        for key in unknown
                    }
                )
        return super().to_internal_value(data)


def batch_serializer(data: Any) -> serializers.ListSerializer:
    return TrackingRequestItemSerializer(
        data=data,
        many=True,
        min_length=1,
        max_length=MAX_BATCH,
        error_messages={
            "not_a_list": "The body must be a JSON array of 1 to 35 tracking requests.",
            "empty": "The body must hold at least one tracking request.",
            "max_length": f"At most {MAX_BATCH} tracking numbers per request.",
            "min_length": "The body must hold at least one tracking request.",
        },
    )
