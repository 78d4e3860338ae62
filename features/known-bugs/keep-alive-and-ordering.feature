@known-bugs
Feature: Known bugs: keep-alive timing and the order of the last message and the will
  One scenario per bug class of reference section 3 that a black-box test reaches.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @v311 @MQTT-3.1.2-24 @must @mutant-keep-alive-multiplier1
  Scenario: Keep-alive earliness: no will before 1.5 x keep-alive (keep-alive 2 s)
    vernemq PR #275/#294: the client was disconnected before 1.5 x keep-alive (0.75 x timer heuristic);
    NanoMQ ships keepalive_multiplier 1.25.
    Given "sensor1" has keep-alive 2 seconds
    And "sensor1" is connected
    When "sensor1" goes silent
    Then "actuator1" receives "offline" on "clients/sensor1/status" after the keep-alive deadline

  @v5 @MQTT-3.1.2-22 @must @mutant-keep-alive-multiplier25
  Scenario: Keep-alive lateness: the will by 1.5 x keep-alive (plus 0.5 s), not minutes later (keep-alive 1 s)
    emqx #1334: the will came 10+ minutes late (keep-alive x backoff x 2).
    Given "sensor1" has keep-alive 1 second
    And "sensor1" is connected
    When "sensor1" goes silent
    Then "actuator1" receives "offline" on "clients/sensor1/status" after the keep-alive deadline

  @v311 @MQTT-3.14.4-3 @must
  Scenario: PUBLISH then DISCONNECT back to back: the message is delivered and no will follows
    mosquitto #7 (fixed 1.5.4): the DISCONNECT right after a PUBLISH was dropped, so a spurious will.
    Given actuator "actuator1" also subscribed to "clients/+/data" at QoS 1
    And "sensor1" is connected
    When "sensor1" publishes "reading" on "clients/sensor1/data" at QoS 1 without waiting for the acknowledgement
    And "sensor1" disconnects normally
    Then "actuator1" has received "reading" on "clients/sensor1/data"
    And "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @v5 @MQTT-3.14.4-3 @must
  Scenario: A QoS 1 PUBLISH then DISCONNECT 0x00 back to back (5.0): the message is delivered, no will
    tbmq PR #314: a client DISCONNECT overtook queued PUBLISHes in the actor mailbox.
    Given actuator "actuator1" also subscribed to "clients/+/data" at QoS 1
    And "sensor1" is connected
    When "sensor1" publishes "reading" on "clients/sensor1/data" at QoS 1 without waiting for the acknowledgement
    And "sensor1" disconnects with reason code 0x00
    Then "actuator1" has received "reading" on "clients/sensor1/data"
    And "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @v5 @MQTT-4.6.0-6 @must @reference-choice
  Scenario: PUBLISH then an abrupt close: the message arrives before the will
    tbmq PR #314: queued PUBLISHes overtaken at the end of the connection; the "status" pattern. The
    will is not a PUBLISH from the client, so MQTT-4.6.0-6 does not order it: a reference choice.
    Given "sensor1" is connected
    When "sensor1" publishes "online" on "clients/sensor1/status" at QoS 1 without waiting for the acknowledgement
    And "sensor1" closes its connection
    Then "actuator1" receives "online" before "offline" on "clients/sensor1/status"
