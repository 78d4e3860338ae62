@v5
Feature: 5.0 will discard: only DISCONNECT 0x00 deletes the will, and a published will is gone
  On DISCONNECT with reason code 0x00 the broker MUST discard the will without publishing it
  (MQTT-3.14.4-3), in every encoding of that DISCONNECT; the will is removed once published or deleted
  (MQTT-3.1.2-10).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.14.4-3 @must @mutant-will-after-normal-disconnect @quick
  Scenario Outline: DISCONNECT 0x00 encoded as <encoding> discards the will
    Given "sensor1" is connected
    When "sensor1" sends the DISCONNECT bytes "<bytes>"
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

    Examples:
      | encoding                                    | bytes                         |
      | Remaining Length 0                          | e0 00                         |
      | a reason code alone                         | e0 01 00                      |
      | a reason code and empty properties          | e0 02 00 00                   |
      | a reason code and a User Property           | e0 09 00 07 26 00 01 6b 00 01 76 |

  @MQTT-3.14.4-3 @must @mutant-will-after-normal-disconnect
  Scenario: DISCONNECT 0x00 from a persistent session with a will delay: no will at the delay, none at session end
    Given "sensor1" has session expiry 2 seconds
    And the will of "sensor1" has delay 1 second
    And "sensor1" is connected
    When "sensor1" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 3 seconds

  @MQTT-3.1.2-10 @must @mutant-will-twice
  Scenario: A published will is removed: the client reconnecting without a will and dropping publishes nothing more
    Given "sensor1" has session expiry 10 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once
    When "sensor1" reconnects without a will after 1.5 seconds
    And "sensor1" resets its connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @MQTT-3.1.2-10 @must
  Scenario: A will deleted by DISCONNECT 0x00 stays deleted when the session is resumed and dropped
    mosquitto #1273 in 5.0 form.
    Given "sensor1" has session expiry 10 seconds
    And "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 1 second
    When "sensor1" reconnects without a will after 1 second
    And "sensor1" closes its connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds
