@v311
Feature: 3.1.1 will discard: DISCONNECT deletes the will, a published will is gone, no flag no will
  A DISCONNECT deletes the will without publishing it (MQTT-3.14.4-3, MQTT-3.1.2-10), for clean and
  persistent sessions alike; once published the will is removed (MQTT-3.1.2-10); a connection
  without the Will Flag has nothing to publish (MQTT-3.1.2-12).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.14.4-3 @must @mutant-will-after-normal-disconnect @quick
  Scenario: DISCONNECT then close: no will, even long after the keep-alive window
    Given "sensor1" has keep-alive 1 second
    And "sensor1" is connected
    When "sensor1" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 3 seconds

  @MQTT-3.1.2-10 @must @mutant-will-after-normal-disconnect
  Scenario: DISCONNECT deletes the will of a persistent session: resuming and dropping publishes nothing
    mosquitto #1273: the will was wrongly sent on a later reconnect after a clean DISCONNECT.
    Given "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 1 second
    When "sensor1" reconnects without a will after 1 second
    And "sensor1" closes its connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @MQTT-3.1.2-10 @must @mutant-will-twice
  Scenario: A published will is removed: the same client reconnecting without a will and dropping publishes nothing more
    Given "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once
    When "sensor1" reconnects without a will after 1.5 seconds
    And "sensor1" resets its connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @MQTT-3.1.2-12 @must
  Scenario: A sensor without a will publishes nothing when it drops
    Given sensor "sensor2" without a will
    And "sensor2" is connected
    When "sensor2" closes its connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds
