@v5 @will-delay
Feature: 5.0 will timing and takeover decision table (reference 1.3, rows 1-14)
  w is the Will Delay Interval, s the Session Expiry Interval, Tc the moment the old connection closed.
  The will goes out when the connection has closed and w has elapsed or the session has ended, whichever
  comes first (MQTT-3.1.2-8, 3.1.3.2.2), unless a DISCONNECT 0x00 deleted it (MQTT-3.14.4-3) or a new
  connection to the session opened before w elapsed (MQTT-3.1.3-9). A takeover closes the old
  connection like any other close (MQTT-3.1.4-3). A DISCONNECT may change s (3.14.2.2.2), but not raise
  it from 0 (MQTT-3.14.2-2). Absence windows reach past w and s, plus slack.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @row-1 @MQTT-3.1.2-8 @must
  Scenario: Row 1: w=0, s=10, abrupt close: the will at Tc, once
    Given "sensor1" has session expiry 10 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 2 seconds

  @row-2 @MQTT-3.1.2-23 @MQTT-3.1.2-8 @must
  Scenario: Row 2: w=2, s absent (0), abrupt close: the session ends at Tc, so the will goes out at Tc, once
    mosquitto #3505 (PR #3507); Paho test_will_delay case 2.
    Given the will of "sensor1" has delay 2 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 3 seconds

  @row-3 @MQTT-3.1.2-8 @must @mutant-will-delay-ignored
  Scenario: Row 3: 0<w<s (w=1, s=3), abrupt close, no reconnect: the will at Tc+w, not again at session end
    Given "sensor1" has session expiry 3 seconds
    And the will of "sensor1" has delay 1 second
    And "sensor1" is connected
    When "sensor1" resets its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 4 seconds

  @row-4 @MQTT-3.1.2-8 @MQTT-3.1.2-7 @must @mutant-will-delay-ignored
  Scenario: Row 4: w>=s>0 (w=3, s=1), abrupt close: the will at Tc+s when the session ends, not again at Tc+w
    mosquitto #1401; EMQX t_session_expire_with_delayed_willmsg.
    Given "sensor1" has session expiry 1 second
    And the will of "sensor1" has delay 3 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 4 seconds

  @row-5 @MQTT-3.1.3-9 @must @mutant-reconnect-keeps-delayed-will
  Scenario: Row 5: w=2, s=10, reconnect with Clean Start 0 before w: the old will is never sent
    mosquitto 07-will-delay-recover; LabOverWire/mqtt-lib #154.
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" closes its connection
    And "sensor1" reconnects after 0.5 seconds
    Then "actuator1" receives nothing on "clients/+/status" for 3 seconds

  @row-6 @MQTT-3.1.2-8 @must
  Scenario: Row 6: w=2, s=10, reconnect with Clean Start 1 before w: the session ends, the old will goes out at once
    HiveMQ ClientSessionPersistenceImpl sends the pending will on a clean start.
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    And "sensor1" reconnects with a clean start after 0.5 seconds
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 0.5 and 1.3 seconds after the fault
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 3 seconds

  @row-7 @MQTT-3.1.2-10 @must @mutant-will-twice
  Scenario: Row 7: w=1, s=10, reconnect after w: the will was sent once, and no duplicate follows
    mosquitto 2.0.6: potential duplicate wills when a will delay was set.
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 1 second
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 1.9 seconds
    When "sensor1" reconnects without a will after 2 seconds
    And "sensor1" closes its connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @row-8 @MQTT-3.14.4-3 @must @mutant-will-after-normal-disconnect
  Scenario: Row 8: w=1, s=2, DISCONNECT 0x00: no will, not at w, not at session end
    Given "sensor1" has session expiry 2 seconds
    And the will of "sensor1" has delay 1 second
    And "sensor1" is connected
    When "sensor1" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 3 seconds

  @row-9 @MQTT-3.1.2-8 @must @mutant-will-delay-ignored
  Scenario: Row 9: w=1, s=3, DISCONNECT 0x04: the will is published, and the will delay still applies
    vernemq #1291, rmqtt #514: DISCONNECT 0x04 did not publish the will.
    Given "sensor1" has session expiry 3 seconds
    And the will of "sensor1" has delay 1 second
    And "sensor1" is connected
    When "sensor1" disconnects with reason code 0x04
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault

  @row-9 @MQTT-3.1.2-8 @must
  Scenario: Row 9 with a new session expiry: DISCONNECT 0x04 with session expiry 0 sends the will at once despite w=30
    Reference 1.2: the session ends at the close, so the will delay no longer matters.
    Given "sensor1" has session expiry 60 seconds
    And the will of "sensor1" has delay 30 seconds
    And "sensor1" is connected
    When "sensor1" disconnects with reason code 0x04 and session expiry 0
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @row-9 @MQTT-3.1.2-8 @must
  Scenario: Row 9 with a lowered session expiry: DISCONNECT 0x04 with session expiry 1 sends the w=30 will at Tc+1
    Given "sensor1" has session expiry 60 seconds
    And the will of "sensor1" has delay 30 seconds
    And "sensor1" is connected
    When "sensor1" disconnects with reason code 0x04 and session expiry 1
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault

  @row-9 @MQTT-3.14.2-2 @must
  Scenario: Raising the session expiry from 0 on DISCONNECT is a Protocol Error: the will is not deleted and fires
    The DISCONNECT is not valid, so the broker answers DISCONNECT 0x82 and closes; the session (s=0)
    ends at the close, so the will goes out at once despite w=30.
    Given the will of "sensor1" has delay 30 seconds
    And "sensor1" is connected
    When "sensor1" disconnects with reason code 0x00 and session expiry 60
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @row-10 @MQTT-3.1.3-9 @MQTT-3.1.4-3 @must @mutant-reconnect-keeps-delayed-will
  Scenario: Row 10: w=2, s=10, takeover with Clean Start 0 while connected: the old connection closes, no will
    EMQX t_takeover_before_session_expire: a new connection to the session exists before w elapses.
    (DISCONNECT 0x8E to the old connection is a SHOULD: takeover.feature.)
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 0
    Then the broker closes the connection of "sensor1"
    And "actuator1" receives nothing on "clients/+/status" for 3 seconds

  @row-11 @MQTT-3.1.2-8 @MQTT-3.1.4-3 @must @reference-choice
  Scenario: Row 11: w=0, s=10, takeover with Clean Start 0 while connected: the will goes out at the close
    Reference 2.8: mosquitto does not send it; 3.1.4 (non-normative) says it is sent because the
    connection closed. MQTT-3.1.3-9 (a new connection to the session before the delay elapsed
    suppresses the will) can also be read to cover a zero delay, so this is the reference broker's
    choice, reported apart from conformance.
    Given "sensor1" has session expiry 10 seconds
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 0
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once

  @row-12 @MQTT-3.1.2-8 @MQTT-3.1.4-3 @must
  Scenario: Row 12: w=2, s=10, takeover with Clean Start 1: the session ends, the will goes out at once, once
    EMQX t_takeover_clean_session_with_delayed_willmsg.
    Given "sensor1" has session expiry 10 seconds
    And the will of "sensor1" has delay 2 seconds
    And "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 1
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 3 seconds

  @row-13 @MQTT-3.1.2-8 @MQTT-3.1.4-3 @must
  Scenario: Row 13: old s=0 (absent), w=2, takeover with Clean Start 0: the old session ended, the will goes out at once
    emqx #18565 (PR #18582): SEI=0 with WDI>0 and a takeover silently dropped the will.
    Given the will of "sensor1" has delay 2 seconds
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 0
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives "offline" on "clients/sensor1/status" only once in 3 seconds

  @row-14 @MQTT-3.1.2-8 @restart @serial @may
  Scenario: Row 14 (graceful stop): pending and armed wills are published at shutdown, or deferred to the restart
    3.1.2.5 lets the broker defer to a restart; mosquitto (will_delay__send_all) and the reference
    broker send them at shutdown instead (mosquitto #477, aedes #754). sensor1's will is waiting for
    its delay, sensor2's is armed on a live connection.
    Given sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS 1
    And "sensor1" has session expiry 60 seconds
    And the will of "sensor1" has delay 30 seconds
    And "sensor1" is connected
    And "sensor2" is connected
    When "sensor1" closes its connection
    And the broker restarts
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 3 seconds
    And "actuator1" receives "offline" on "clients/sensor2/status" within 3 seconds

  @row-14 @MQTT-3.14.4-3 @restart @serial @must
  Scenario: Row 14 (crash): after a crash and restart a will deleted before the crash never comes back
    A broker with a persisted session store may publish the wills of connections the crash cut after it
    restarts (aedes #754, emqx #443); a deleted will must not be among them.
    Given sensor "sensor3" with will "offline" on "clients/sensor3/status" at QoS 1
    And "sensor3" has session expiry 2 seconds
    And "sensor3" is connected
    When "sensor3" disconnects normally
    And the broker crashes and restarts
    And actuator "actuator2" subscribes to "clients/+/status" at QoS 1
    Then "actuator2" receives nothing on "clients/sensor3/status" for 3 seconds
