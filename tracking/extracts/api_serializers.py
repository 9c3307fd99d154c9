"""Request and response shapes of the extracts API (input checks and OpenAPI documentation).
Names are the wire's (USPS camelCase)."""

from rest_framework import serializers

from tracking.constants import ExtractFormat, ExtractStatus

# ruff: noqa: N815 - wire names


class ExtractCreateSerializer(serializers.Serializer):
    """POST /tracking/v3r2/extracts. Only the shape is checked here; the rules (valid MIDs,
    range, access) are the service's, with their own messages."""

    MIDs = serializers.ListField(child=serializers.CharField(max_length=20), allow_empty=True)
    startDate = serializers.DateField(help_text="First UTC day, YYYY-MM-DD.")
    endDate = serializers.DateField(help_text="Last UTC day (included), YYYY-MM-DD.")
    format = serializers.ChoiceField(choices=ExtractFormat.values, default=ExtractFormat.NDJSON)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [f"Unknown field; the body takes {', '.join(self.fields)}."]
                    for name in unknown
                }
            )
        return attrs

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["The body must be a JSON object."]}
            )
        return super().to_internal_value(data)


class LinkSerializer(serializers.Serializer):
    rel = serializers.ListField(child=serializers.CharField())
    href = serializers.CharField()
    method = serializers.CharField()


class ExtractStatusSerializer(serializers.Serializer):
    extractId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ExtractStatus.values)
    statusReason = serializers.CharField(required=False)
    MIDs = serializers.ListField(child=serializers.CharField())
    startDate = serializers.DateField()
    endDate = serializers.DateField()
    format = serializers.ChoiceField(choices=ExtractFormat.values)
    requestedAt = serializers.DateTimeField()
    rowCount = serializers.IntegerField(required=False)
    byteCount = serializers.IntegerField(required=False)
    sha256 = serializers.CharField(required=False, help_text="Of the gzip file as downloaded.")
    builtAt = serializers.DateTimeField(required=False)
    expiresAt = serializers.DateTimeField(required=False)
    links = LinkSerializer(many=True)


class ExtractEventSerializer(serializers.Serializer):
    """ScanEventExtractTrackingEvent (subscriptions-tracking-v3r2.yaml), the fields we hold."""

    eventCode = serializers.CharField()
    eventType = serializers.CharField(required=False)
    eventTimestamp = serializers.CharField(required=False, help_text="Local, with its offset.")
    GMTTimestamp = serializers.CharField(required=False, help_text="UTC, ending in Z.")
    GMTOffset = serializers.CharField(required=False, help_text='For example "-7:00".')
    eventCity = serializers.CharField(required=False)
    eventState = serializers.CharField(required=False)
    eventZIPCode = serializers.CharField(required=False)
    eventCountry = serializers.CharField(required=False)
    firm = serializers.CharField(required=False)
    recipientName = serializers.CharField(required=False)
    actionCode = serializers.CharField(required=False)
    reasonCode = serializers.CharField(required=False)
    scanEventExtractEventName = serializers.CharField(required=False)


class ExtractRecordSerializer(serializers.Serializer):
    """detailedScanEvent: the piece's fields and one trackingEvent. Empty fields are left out."""

    trackingNumber = serializers.CharField()
    uniqueTrackingID = serializers.CharField(required=False)
    mailerID = serializers.CharField(required=False)
    mailingDate = serializers.DateField(required=False)
    mailClass = serializers.CharField(required=False)
    mailClassCode = serializers.CharField(required=False)
    mailType = serializers.CharField(required=False)
    serviceTypeCode = serializers.CharField(required=False)
    originCity = serializers.CharField(required=False)
    originState = serializers.CharField(required=False)
    originZIPCode = serializers.CharField(required=False)
    originCountry = serializers.CharField(required=False)
    destinationCity = serializers.CharField(required=False)
    destinationState = serializers.CharField(required=False)
    destinationZIPCode = serializers.CharField(required=False)
    destinationCountry = serializers.CharField(required=False)
    status = serializers.CharField(required=False)
    statusCategory = serializers.CharField(required=False)
    statusSummary = serializers.CharField(required=False)
    trackingEvent = ExtractEventSerializer()


class EventsPageSerializer(serializers.Serializer):
    events = ExtractRecordSerializer(many=True)
    next = serializers.CharField(
        help_text="The cursor of the next page (send it with the same MID, since and until). "
        "Always given, also for a window that has ended: late scans of it come with it.",
    )
    limit = serializers.IntegerField()
