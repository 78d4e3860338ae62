@known-bugs @v5 @will-delay
Feature: Known bugs: will delay against session expiry, cancellation and side effects
  One scenario per will-delay bug class of reference section 3.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-8 @must @mutant-will-delay-ignored
  Scenario: A will delay longer than the session expiry (w=3 > s=1): the will goes out when the session ends
    mosquitto #1401 (fixed 1.6.5): the will was never published when the delay exceeded the session expiry.
    Given "sensor1" has session expiry 1 second
    And the will of "sensor1" has delay 3 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault

  @MQTT-3.1.2-23 @must
  Scenario: Session expiry 0 with a will delay (w=3): the session ends at the close, the will goes out at once
    mosquitto #3505 (PR #3507): the will waited for the delay instead.
    Given the will of "sensor1" has delay 3 seconds
    And "sensor1" has session expiry 0 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @MQTT-3.1.2-8 @must @mutant-will-delay-ignored
  Scenario: The will delay is honoured (w=2, s=10): not at once
    vernemq #1298: the will delay was ignored and the will sent at once.
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 2 and 2.8 seconds after the fault

  @MQTT-3.1.3-9 @must @mutant-reconnect-keeps-delayed-will
  Scenario: A reconnect within the will delay cancels the sleeping will
    LabOverWire/mqtt-lib #154: the reconnect did not cancel the delayed publish task, a spurious will.
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" closes its connection
    And "sensor1" reconnects after 0.5 seconds
    Then "actuator1" receives nothing on "clients/+/status" for 3 seconds

  @MQTT-3.1.2-10 @must @mutant-will-twice
  Scenario: A delayed will is sent once: no duplicate at the delay, the session end or a later reconnect
    mosquitto ChangeLog 2.0.6: potential duplicate will messages when a will delay was set.
    Given "sensor1" has session expiry 2 seconds
    And the will of "sensor1" has delay 1 second
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" only once in 3 seconds

  @MQTT-3.1.3-9 @must
  Scenario: After a client with a will delay quit, a new client with the same id gets its messages
    mosquitto #1752 (1.6.11): after a client with a will delay > 0 quit, a new client with the same
    client id received no messages. The new client subscribes with a clean start (row 6 of the
    decision table covers what that does to the old will).
    Given sensor "sensor2" without a will
    And "sensor1" uses client id "node1"
    And "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 5 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    And actuator "node1" subscribes to "clients/+/data" at QoS 1
    And "sensor2" publishes "reading" on "clients/sensor2/data" at QoS 1
    Then "node1" receives "reading" on "clients/sensor2/data" within 1 second
