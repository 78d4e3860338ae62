@known-bugs
Feature: Known bugs: DISCONNECT handling (graceful disconnects, 0x04, reserved reason codes)
  One scenario per bug class of reference section 3 that a black-box test reaches. Each scenario names
  the bug(s) it would have caught.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @v311 @MQTT-3.14.4-3 @must @mutant-will-after-normal-disconnect
  Scenario: Graceful DISCONNECT publishes no will (3.1.1)
    vernemq #138, Yakifo/amqtt #199: the will was published after a graceful DISCONNECT.
    Given "sensor1" is connected
    When "sensor1" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @v5 @MQTT-3.14.4-3 @must @mutant-will-after-normal-disconnect
  Scenario: Graceful DISCONNECT 0x00 publishes no will (5.0)
    vernemq #138, Yakifo/amqtt #199 in 5.0 form.
    Given "sensor1" is connected
    When "sensor1" disconnects with reason code 0x00
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @v311 @MQTT-3.1.2-10 @must
  Scenario: Persistent session: DISCONNECT, reconnect, publish, DISCONNECT again: both messages, no will
    mosquitto #1273: the will was wrongly sent on the reconnect after a clean DISCONNECT (and missing on
    a real drop); mosquitto 07-will-reconnect-1273.
    Given "sensor1" keeps its session
    And actuator "actuator1" also subscribed to "clients/+/data" at QoS 1
    And "sensor1" is connected
    When "sensor1" publishes "alive-1" on "clients/sensor1/data" at QoS 1
    And "sensor1" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 1 second
    When "sensor1" reconnects after 1 second
    And "sensor1" publishes "alive-2" on "clients/sensor1/data" at QoS 1
    And "sensor1" disconnects normally
    Then "actuator1" receives "alive-1" before "alive-2" on "clients/sensor1/data"
    And "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @v5 @MQTT-3.1.2-8 @must
  Scenario: DISCONNECT 0x04 (Disconnect with Will Message) publishes the will
    vernemq #1291, rmqtt/rmqtt #514: 0x04 handled as a normal disconnect, the will discarded.
    Given "sensor1" is connected
    When "sensor1" disconnects with reason code 0x04
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @v5 @MQTT-3.1.2-8 @must
  Scenario: DISCONNECT with a non-normal client code (0x80 Unspecified error) publishes the will
    hivemq-community-edition PR #118: the will was not sent for some non-normal DISCONNECT codes.
    Given "sensor1" is connected
    When "sensor1" disconnects with reason code 0x80
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @v5 @MQTT-3.14.2-1 @must
  Scenario: DISCONNECT with the reserved reason code 0xFF is malformed, not normal: the will is published
    mosquitto #3743, vernemq #2553, nanomq #2442: a reserved code was treated as normal and the will
    discarded.
    Given "sensor1" is connected
    When "sensor1" disconnects with reason code 0xFF
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @v311 @MQTT-3.1.2-8 @must
  Scenario: A second CONNECT on the same connection: the broker closes it and publishes the will
    mosquitto #2554 (2.0.11-2.0.14): the client was closed for the protocol error but its will not sent.
    Given "sensor1" is connected
    When "sensor1" sends a second CONNECT
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @v5 @MQTT-3.1.2-8 @must
  Scenario: A second CONNECT on the same connection (5.0): DISCONNECT 0x82, close, and the will
    mosquitto #2554 in 5.0 form.
    Given "sensor1" is connected
    When "sensor1" sends a second CONNECT
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
