@v5 @durable @restart @serial
Feature: Wills across a broker crash (brokers that keep sessions: profile survives_crash)
  The broker is killed with SIGKILL and started again with the same command. MQTT 5.0 3.1.2.5 lets a
  server defer the wills of the connections a failure cut until it restarts ("MAY"); whatever it
  publishes after the restart must still obey the will rules: a will already published or deleted is
  gone from the session state (MQTT-3.1.2-10, MQTT-3.14.4-3) and must not come back. actuator1 keeps
  a persistent session (Clean Start 0, Session Expiry 60 s) and goes back to it after the restart; if
  the target did not keep it (Session Present 0), the scenario is an error, not a rule failure.
  A copy with DUP 1 is a redelivery of an unacknowledged message (QoS 1 allows it), not a new will.

  Background:
    Given actuator "actuator1" with a persistent session subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-10 @must
  Scenario: A will published before the crash is not published again after the restart
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 3 seconds
    When the broker crashes and restarts
    And actuator "actuator1" reconnects to its session
    Then "actuator1" receives no new "offline" on "clients/sensor1/status" for 3 seconds

  @MQTT-3.14.4-3 @must
  Scenario: A will deleted by DISCONNECT 0x00 before the crash never comes back
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" has session expiry 60 seconds
    And "sensor1" is connected
    When "sensor1" disconnects normally
    And the broker crashes and restarts
    And actuator "actuator1" reconnects to its session
    Then "actuator1" receives nothing on "clients/sensor1/status" for 3 seconds

  @MQTT-3.1.2-8 @may
  Scenario: The will of a connection live at the crash is published after the restart (a MAY: deferred wills)
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When the broker crashes and restarts
    And actuator "actuator1" reconnects to its session
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 5 seconds
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 3 seconds

  @MQTT-3.1.2-8 @may
  Scenario: A delayed will pending at the crash is published after the restart (a MAY)
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" has session expiry 60 seconds
    And the will of "sensor1" has delay 4 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    And the broker crashes and restarts
    And actuator "actuator1" reconnects to its session
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 10 seconds
