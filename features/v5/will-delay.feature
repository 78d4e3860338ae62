@v5 @will-delay
Feature: 5.0 will delay and session expiry: the will waits for the delay or the session end, whichever is first
  The Will Delay Interval (3.1.3.2.2) holds the will back after the close; the will is stored with the
  session (MQTT-3.1.2-7), so it goes out when the delay has elapsed or the session ends, whichever
  comes first (MQTT-3.1.2-8). A session with Session Expiry Interval 0 or absent ends with the
  connection, 0xFFFFFFFF never expires (MQTT-3.1.2-23). A new connection to the session before the
  delay elapses cancels the will (MQTT-3.1.3-9). Will Delay Interval twice is a Protocol Error.
  The decision table rows are in decision-table.feature.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-8 @must @mutant-will-delay-ignored @quick
  Scenario: The will waits for its delay (2 s) when the session outlives it
    vernemq #1298: the will delay ignored, the will sent at once.
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 2 and 2.8 seconds after the fault
    And the delivered will carries no will delay interval

  @MQTT-3.1.2-23 @must
  Scenario: Session Expiry absent (0): the session ends at the close, so the will goes out at once despite a 3 s delay
    mosquitto #3505: the will waited for the delay instead.
    Given the will of "sensor1" has delay 3 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 4 seconds

  @MQTT-3.1.2-23 @must @mutant-will-delay-ignored
  Scenario: A session that never expires (0xFFFFFFFF): the will waits for its delay (1 s)
    Given "sensor1" has a session that never expires
    And the will of "sensor1" has delay 1 second
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault

  @MQTT-3.1.2-7 @must
  Scenario: The will is stored with the session: a session ending (1 s) before the delay (3 s) publishes it
    mosquitto #1401: the will was never published when the delay exceeded the session expiry.
    Given "sensor1" has session expiry 1 second
    And the will of "sensor1" has delay 3 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 4 seconds

  @MQTT-3.1.3-9 @must @mutant-reconnect-keeps-delayed-will @quick
  Scenario: Reconnecting to the session within the delay cancels the will, for good
    LabOverWire/mqtt-lib #154: the delayed publish was not cancelled.
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" closes its connection
    And "sensor1" reconnects after 0.5 seconds
    Then "actuator1" receives nothing on "clients/+/status" for 3 seconds

  @MQTT-3.1.3-9 @must @mutant-reconnect-keeps-delayed-will
  Scenario: A reconnect within the delay cancels a will requested by DISCONNECT 0x04 too
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" disconnects with reason code 0x04
    And "sensor1" reconnects after 0.5 seconds
    Then "actuator1" receives nothing on "clients/+/status" for 3 seconds

  @MQTT-3.1.3-9 @must
  Scenario: A reconnect without a will within the delay leaves the session without one: dropping again publishes nothing
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 1 second
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" closes its connection
    And "sensor1" reconnects without a will after 0.3 seconds
    And "sensor1" closes its connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @MQTT-3.1.4-1 @must
  Scenario: Will Delay Interval given twice is a Protocol Error: refused, and the will never published
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 1 second
    And the will of "sensor1" has delay 1 second
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x82 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 2 seconds
