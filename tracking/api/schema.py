"""Serializers that describe the wire shapes in the OpenAPI schema (drf-spectacular).

Responses are built by tracking.api.shapes; these only document them, field for field, so
schemathesis can hold every response against the schema.
"""

from rest_framework import serializers


class ErrorSourceSerializer(serializers.Serializer):
    parameter = serializers.CharField(required=False)
    example = serializers.CharField(required=False)


class ErrorItemSerializer(serializers.Serializer):
    status = serializers.CharField()
    code = serializers.CharField(help_text="A reason code of the access decision, or an HTTP one.")
    title = serializers.CharField()
    detail = serializers.CharField()
    source = ErrorSourceSerializer(required=False)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    errors = ErrorItemSerializer(many=True)


class ErrorMessageSerializer(serializers.Serializer):
    """The USPS error envelope."""

    apiVersion = serializers.CharField()  # noqa: N815 - wire name
    error = ErrorBodySerializer()


class LegacyEventSerializer(serializers.Serializer):
    eventType = serializers.CharField(required=False)  # noqa: N815
    eventTimestamp = serializers.CharField(  # noqa: N815
        required=False, help_text="Local time, YYYY-MM-DDTHH:MM:SS, no offset."
    )
    GMTTimestamp = serializers.CharField(required=False, help_text="UTC, ending in Z.")  # noqa: N815
    GMTOffset = serializers.CharField(required=False, help_text='For example "-7:00".')  # noqa: N815
    eventCountry = serializers.CharField(required=False)  # noqa: N815
    eventCity = serializers.CharField(required=False)  # noqa: N815
    eventState = serializers.CharField(required=False)  # noqa: N815
    eventZIP = serializers.CharField(required=False)  # noqa: N815
    firm = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    authorizedAgent = serializers.BooleanField(required=False)  # noqa: N815
    eventCode = serializers.CharField(required=False)  # noqa: N815
    actionCode = serializers.CharField(required=False)  # noqa: N815
    reasonCode = serializers.CharField(required=False)  # noqa: N815


class TrackingSummarySerializer(serializers.Serializer):
    trackingNumber = serializers.CharField()  # noqa: N815
    expectedDeliveryDate = serializers.DateField(required=False)  # noqa: N815
    expectedDeliveryTime = serializers.CharField(required=False)  # noqa: N815
    eventSummaries = serializers.ListField(child=serializers.CharField())  # noqa: N815


class LegacyTrackingDetailsSerializer(serializers.Serializer):
    trackingNumber = serializers.CharField()  # noqa: N815
    mailClass = serializers.CharField(required=False)  # noqa: N815
    mailType = serializers.CharField(required=False)  # noqa: N815
    serviceTypeCode = serializers.CharField(required=False)  # noqa: N815
    destinationCity = serializers.CharField(required=False)  # noqa: N815
    destinationState = serializers.CharField(required=False)  # noqa: N815
    destinationZIP = serializers.CharField(required=False)  # noqa: N815
    destinationCountryCode = serializers.CharField(required=False)  # noqa: N815
    originCity = serializers.CharField(required=False)  # noqa: N815
    originState = serializers.CharField(required=False)  # noqa: N815
    originZIP = serializers.CharField(required=False)  # noqa: N815
    originCountry = serializers.CharField(required=False)  # noqa: N815
    uniqueMailPieceId = serializers.CharField(required=False)  # noqa: N815
    mailPieceIntakeDate = serializers.CharField(required=False)  # noqa: N815
    expectedDeliveryTimeStamp = serializers.CharField(required=False)  # noqa: N815
    status = serializers.CharField(required=False)
    statusCategory = serializers.CharField(required=False)  # noqa: N815
    statusSummary = serializers.CharField(required=False)  # noqa: N815
    emailEnabled = serializers.BooleanField()  # noqa: N815
    proofOfDeliveryEnabled = serializers.BooleanField()  # noqa: N815
    RREEnabled = serializers.BooleanField()  # noqa: N815
    RRAMenabled = serializers.BooleanField()  # noqa: N815
    restoreEnabled = serializers.BooleanField()  # noqa: N815
    redeliveryEnabled = serializers.BooleanField()  # noqa: N815
    trackingEvents = LegacyEventSerializer(many=True)  # noqa: N815


class EventSerializer(serializers.Serializer):
    eventType = serializers.CharField(required=False)  # noqa: N815
    eventCode = serializers.CharField(required=False)  # noqa: N815
    eventTimestamp = serializers.CharField(  # noqa: N815
        required=False, help_text="Local: a date, or a date-time with its offset."
    )
    GMTTimestamp = serializers.CharField(required=False)  # noqa: N815
    GMTOffset = serializers.CharField(required=False)  # noqa: N815
    eventCity = serializers.CharField(required=False)  # noqa: N815
    eventState = serializers.CharField(required=False)  # noqa: N815
    eventZIPCode = serializers.CharField(required=False)  # noqa: N815
    eventCountry = serializers.CharField(required=False)  # noqa: N815
    firm = serializers.CharField(required=False)
    recipientName = serializers.CharField(required=False)  # noqa: N815
    actionCode = serializers.CharField(required=False)  # noqa: N815
    reasonCode = serializers.CharField(required=False)  # noqa: N815


class DeliveryDateExpectationSerializer(serializers.Serializer):
    expectedDeliveryDate = serializers.DateField(required=False)  # noqa: N815


class ServicesEligibilitySerializer(serializers.Serializer):
    proofOfDeliveryEnabled = serializers.BooleanField()  # noqa: N815
    RREEnabled = serializers.BooleanField()  # noqa: N815
    trackingProofOfDeliveryEnabled = serializers.BooleanField()  # noqa: N815


class TrackingDetailSerializer(serializers.Serializer):
    trackingNumber = serializers.CharField()  # noqa: N815
    uniqueTrackingID = serializers.CharField(required=False)  # noqa: N815
    mailingDate = serializers.DateField(required=False)  # noqa: N815
    mailClass = serializers.CharField(required=False)  # noqa: N815
    mailClassCode = serializers.CharField(required=False)  # noqa: N815
    mailType = serializers.CharField(required=False)  # noqa: N815
    serviceTypeCode = serializers.CharField(required=False)  # noqa: N815
    destinationCity = serializers.CharField(required=False)  # noqa: N815
    destinationState = serializers.CharField(required=False)  # noqa: N815
    destinationZIPCode = serializers.CharField(required=False)  # noqa: N815
    destinationCountry = serializers.CharField(required=False)  # noqa: N815
    originCity = serializers.CharField(required=False)  # noqa: N815
    originState = serializers.CharField(required=False)  # noqa: N815
    originZIPCode = serializers.CharField(required=False)  # noqa: N815
    originCountry = serializers.CharField(required=False)  # noqa: N815
    status = serializers.CharField(required=False)
    statusCategory = serializers.CharField(required=False)  # noqa: N815
    statusSummary = serializers.CharField(required=False)  # noqa: N815
    deliveryDateExpectation = DeliveryDateExpectationSerializer(required=False)  # noqa: N815
    servicesEligibility = ServicesEligibilitySerializer()  # noqa: N815
    trackingEvents = EventSerializer(many=True)  # noqa: N815


class MultiStatusItemSerializer(serializers.Serializer):
    """One item of a 207 answer: statusCode "200" with the tracking detail fields, or an error
    status with the trackingNumber and the error envelope's fields."""

    statusCode = serializers.CharField()  # noqa: N815
    trackingNumber = serializers.CharField()  # noqa: N815
    apiVersion = serializers.CharField(required=False)  # noqa: N815
    error = ErrorBodySerializer(required=False)
