@eventgrid @tls @reference-only @routing
Feature: Event Grid routes published messages, wills included, as CloudEvents
  An Event Grid namespace can route every MQTT message published to it, as an
  MQTT.EventPublished CloudEvent, to an Event Grid topic (routeTopicResourceId), with enrichments
  taken from the publishing client and the message. The reference broker writes those events to a
  JSON Lines file instead (fixtures/namespaces/README.md, "Routing"), which these steps read, so
  these scenarios need the reference broker. The payload is in data_base64 unless the message says
  it is text or JSON; a missing enrichment value is "". Whether a will is routed, Event Grid does
  not say: the reference broker routes it like the PUBLISH it stands for, when it is published.

  Background:
    Given the Event Grid walkthrough namespace routing messages with the enrichments:
      | key        | value                                 |
      | site       | lab                                   |
      | clientname | ${client.authenticationName}          |
      | clienttype | ${client.attributes.type}             |
      | urgency    | ${mqtt.message.userProperties.Urgency} |
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1

  @v5 @must @EG-ROUTE-event-schema
  Scenario: A sensor's telemetry is routed with its client's enrichments
    When "sensor1" tries to publish "21.5" on "clients/sensor1/status" at QoS 1 with user property "Urgency" = "high"
    Then the publish of "sensor1" is acknowledged with reason code 0x00
    And "actuator1" receives "21.5" on "clients/sensor1/status" within 2 seconds
    And a routed event for "clients/sensor1/status" carries "21.5" in data_base64 with:
      | key        | value   |
      | site       | lab     |
      | clientname | sensor1 |
      | clienttype | sensor  |
      | urgency    | high    |

  @v311 @must @EG-ROUTE-enrichments
  Scenario: MQTT 3.1.1 telemetry is routed as base64, and a missing enrichment value is empty
    When "sensor1" tries to publish "21.5" on "clients/sensor1/status" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x00
    And a routed event for "clients/sensor1/status" carries "21.5" in data_base64 with:
      | key        | value   |
      | clientname | sensor1 |
      | urgency    |         |

  @v5 @reference-choice @EG-ROUTE-wills
  Scenario: A will is routed like the PUBLISH it stands for, when it is published
    Given "sensor1" is connected
    When "sensor1" resets its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 2 seconds
    And a routed event for "clients/sensor1/status" carries "offline" in data_base64 with:
      | key        | value   |
      | clientname | sensor1 |
      | clienttype | sensor  |
