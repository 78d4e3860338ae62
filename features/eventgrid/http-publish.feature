@eventgrid @tls @reference-only @http-publish
Feature: Event Grid HTTP Publish delivers to MQTT subscribers only what the caller may publish
  Event Grid's HTTP Publish (preview) lets a back-end POST an MQTT message
  (/mqtt/messages?topic=…&api-version=…, QoS and retain as mqtt-* headers) with a bearer token; the
  caller is authorized like an MQTT PUBLISH and subscribers get the message. Event Grid takes a
  Microsoft Entra token; the reference broker takes a token the scenario mints for a registered
  client (fixtures/namespaces/README.md, "HTTP Publish"), so these scenarios need the reference
  broker. The answer is 204 once the broker has the message, 403 for a topic the caller may not
  publish on.

  Background:
    Given the Event Grid walkthrough namespace with HTTP Publish
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @v5 @must @EG-HTTP-publish
  Scenario: An actuator receives a message posted over HTTP
    When "sensor1" posts "online" to "clients/sensor1/status" over HTTP at QoS 1
    Then the HTTP Publish of "sensor1" is answered 204
    And "actuator1" receives "online" on "clients/sensor1/status" within 2 seconds
    And "actuator1" receives it at QoS 1

  @v5 @must @EG-HTTP-authorization
  Scenario: An HTTP Publish on another client's topic is refused with 403 and delivers nothing
    When "sensor1" posts "forged" to "clients/sensor2/status" over HTTP at QoS 1
    Then the HTTP Publish of "sensor1" is answered 403
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @v5 @must @EG-HTTP-authorization
  Scenario: A client without a Publisher binding cannot publish over HTTP either
    When "actuator2" posts "forged" to "clients/actuator2/status" over HTTP at QoS 0
    Then the HTTP Publish of "actuator2" is answered 403
    And "actuator1" receives nothing on "clients/+/status" for 1 second
