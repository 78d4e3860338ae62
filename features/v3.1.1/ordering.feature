@v311
Feature: 3.1.1 ordering: the sensor's last message arrives before its will
  Messages from one client on one topic at one QoS are forwarded in the order received
  (MQTT-4.6.0-6). For the "status" pattern: a sensor publishes "online" on its status topic and drops
  at once; actuators must never see the will "offline" before "online".
  The will is published by the broker, not received from the client, so MQTT-4.6.0-5/-6 (which order
  a client's own PUBLISHes) do not order it against the client's last message: every scenario here is
  the reference broker's choice (`@reference-choice`), reported apart from conformance.

  Background:
    Given actuator "actuator1" subscribed to "clients/+/status" at QoS 2

  @MQTT-4.6.0-6 @must @reference-choice
  Scenario Outline: "online" at QoS <qos>, then an abrupt close: "online" arrives before the will
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS <qos>
    And "sensor1" is connected
    When "sensor1" publishes "online" on "clients/sensor1/status" at QoS <qos> without waiting for the acknowledgement
    And "sensor1" closes its connection
    Then "actuator1" receives "online" before "offline" on "clients/sensor1/status"

    Examples:
      | qos |
      | 0   |
      | 1   |

  @MQTT-4.6.0-6 @must @reference-choice @qos2
  Scenario: "online" at QoS 2 (flow completed), then an abrupt close: "online" arrives before the will
    A QoS 2 message may be delivered on PUBLISH or only on PUBREL (4.3.3), so the flow is completed
    before the close.
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 2
    And "sensor1" is connected
    When "sensor1" publishes "online" on "clients/sensor1/status" at QoS 2
    And "sensor1" closes its connection
    Then "actuator1" receives "online" before "offline" on "clients/sensor1/status"
