@security @eventgrid @tls
Feature: Attacker: connecting as another client
  An attacker holding a valid certificate of its own (sensor2) tries to be someone else. Runs
  against any namespace set up like the walkthrough (`lwt-harness init eventgrid-lwt`, then
  `check --broker mqtts://… --identities DIR`), and against the reference broker. Every refusal is
  judged without a particular reason code where Event Grid documents none (`is not accepted`).

  Background:
    Given the Event Grid walkthrough namespace
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @v5 @must @EG-SEC-spoof
  Scenario: Another client's username with one's own certificate is refused
    # Event Grid (mqtt-client-authentication, ThumbprintMatch): the presented certificate's
    # thumbprint must be one of the allowed thumbprints of the client named by the username.
    Given "sensor2" uses username "sensor1"
    When "sensor2" tries to connect
    Then "sensor2" is not accepted

  @v311 @must @EG-SEC-spoof
  Scenario: MQTT 3.1.1: another client's username with one's own certificate is refused
    # Event Grid (mqtt-client-authentication): as above; 3.1.1 CONNACK has no reason string at all.
    Given "sensor2" uses username "sensor1"
    When "sensor2" tries to connect
    Then "sensor2" is not accepted

  @v5 @must @EG-SEC-spoof
  Scenario: No client certificate is refused
    # Event Grid (mqtt-client-authentication): clients authenticate with a certificate; there is
    # no anonymous access and no plain-text port.
    Given "sensor1" presents no certificate
    When "sensor1" tries to connect
    Then "sensor1" is not accepted

  @v5 @must @EG-SEC-spoof
  Scenario: An actuator's certificate does not make a sensor an actuator
    # Event Grid (mqtt-client-authentication): the username names the client resource and the
    # certificate must belong to that client, so group membership cannot be borrowed.
    Given "actuator2" presents certificate "sensor1"
    When "actuator2" tries to connect
    Then "actuator2" is not accepted

  @v5 @must @EG-SEC-case
  Scenario: A case-folded username authenticates but does not widen the client's topics
    # Event Grid (mqtt-clients): the authentication name is matched ignoring case at
    # authentication, but its registered case is what topic templates substitute.
    Given "sensor1" uses username "SENSOR1"
    When "sensor1" tries to publish "forged" on "clients/SENSOR1/status" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x87
    And "actuator1" receives nothing on "clients/+/status" for 1 second
