@security @eventgrid @tls
Feature: Attacker: topics and filters that try to escape the topic templates
  sensor1 may publish only on clients/sensor1/status (template
  clients/${client.authenticationName}/status); actuators may subscribe to clients/+/status only.
  Substitution is literal and uses the requesting client's own values.

  Background:
    Given the Event Grid walkthrough namespace
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @v5 @must @EG-SEC-template
  Scenario: A topic spelling out the template variable is not the template
    # Event Grid (mqtt-topic-spaces, mqtt-access-control): variables are substituted with the
    # client's own values; a PUBLISH topic is matched literally against the substituted template.
    When "sensor1" tries to publish "forged" on "clients/${client.authenticationName}/status" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x87
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @v5 @must @EG-SEC-template
  Scenario: Publishing on another sensor's topic is refused and reaches no one
    # Event Grid (mqtt-access-control): access only where the substituted value matches the
    # client's own authentication name.
    When "sensor1" tries to publish "sensor2 is gone" on "clients/sensor2/status" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x87
    And "actuator1" receives nothing on "clients/sensor2/status" for 1 second

  @v5 @must @EG-SEC-template
  Scenario: A deeper topic under one's own status topic is not covered
    # Event Grid (mqtt-topic-spaces): the template has no wildcard, so only the exact topic matches.
    When "sensor1" tries to publish "x" on "clients/sensor1/status/extra" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x87

  @v5 @must @EG-SEC-template
  Scenario: Filters wider than the Subscriber template are refused, the template itself is granted
    # Event Grid (mqtt-topic-spaces, SUBSCRIBE authorization per filter): a filter is allowed only
    # where a Subscriber template covers it; Publisher does not imply Subscriber.
    When "actuator2" tries to subscribe to "clients/#, #, clients/+/+, clients/+/status" at QoS 1
    Then the subscriptions of "actuator2" are answered with "0x87, 0x87, 0x87, 0x01"

  @v5 @must @EG-SEC-template
  Scenario: A sensor (Publisher only) may not subscribe to its own topic
    # Event Grid (mqtt-access-control): Publisher and Subscriber are separate permissions.
    When "sensor2" tries to subscribe to "clients/sensor2/status" at QoS 1
    Then the subscriptions of "sensor2" are answered with "0x87"
