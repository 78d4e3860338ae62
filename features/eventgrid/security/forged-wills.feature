@security @eventgrid @tls
Feature: Attacker: wills that speak for someone else
  A will is published on behalf of its owner, so it is authorized like a PUBLISH of the owner.
  Whether Event Grid checks it at CONNECT or when it fires is undocumented; either way a forged
  will must never reach a subscriber (the reference broker accepts the CONNECT and drops the will
  when it fires; `willAuthorization: atConnect` refuses the CONNECT instead).

  Background:
    Given the Event Grid walkthrough namespace
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "sensor2 is gone (forged by sensor1)" on "clients/sensor2/status" at QoS 1
    And sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS 1

  @v5 @must @EG-SEC-will
  Scenario: A will on another sensor's topic never reaches an actuator
    # Event Grid (mqtt-access-control; LWT blog 2024-04-10: the will is published by the broker
    # for the client): the owner may not publish on clients/sensor2/status, so neither may its will.
    When "sensor1" tries to connect and then drops the connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @v311 @must @EG-SEC-will
  Scenario: MQTT 3.1.1: a will on another sensor's topic never reaches an actuator
    # Event Grid (mqtt-access-control), as above.
    Given "sensor1" speaks MQTT 3.1.1
    When "sensor1" tries to connect and then drops the connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @v5 @must @EG-SEC-will
  Scenario: The real owner's will still arrives after a forged one was dropped
    # Event Grid (LWT blog 2024-04-10): an abrupt loss publishes the client's own will.
    When "sensor1" tries to connect and then drops the connection
    And "sensor2" tries to connect and then drops the connection
    Then "actuator1" receives "offline" on "clients/sensor2/status" within 2 seconds
    And "actuator1" has received exactly 1 message on "clients/+/status"

  @v5 @should @reference-choice @EG-SEC-will
  Scenario: A DISCONNECT carrying a User Property fails, so the will is not discarded
    # Event Grid (mqtt-support): User Properties on DISCONNECT make the request fail. Undocumented
    # what follows; the reference broker ends the connection without a valid DISCONNECT
    # (DISCONNECT 0x83), so the will is published. Bytes: 0xE0, remaining length 9, reason 0x00,
    # properties (7 bytes): User Property "k" = "v".
    Given "sensor2" is connected
    When "sensor2" sends the DISCONNECT bytes "E0 09 00 07 26 00 01 6B 00 01 76"
    Then "actuator1" receives "offline" on "clients/sensor2/status" within 2 seconds
