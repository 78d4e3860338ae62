@v311 @shared-subscriptions
Feature: 3.1.1 wills and shared subscriptions ($share/{group}/{filter} for 3.1.1 clients)
  MQTT 3.1.1 has no shared subscriptions; brokers that offer `$share/{group}/{filter}` to 3.1.1
  clients (mosquitto, Event Grid, the reference broker) give them 5.0's meaning (section 4.8.2), and
  only targets whose profile says `shared_subscriptions: true` run these. The will still MUST be
  published when the connection ends without DISCONNECT (MQTT-3.1.2-8) and so reaches each group;
  one copy per group and no retained message on a shared subscribe are 4.8.2's prose, without a MUST
  keyword, judged at SHOULD under rule MQTT-4.8.2. "Only once" is proven by a later probe on the
  will topic coming back through the group and every member's own probe.

  @MQTT-3.1.2-8 @must
  Scenario: A will reaches exactly one member of each of two groups and every non-shared subscriber
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And actuator "worker1" in shared group "workers" subscribed to "clients/+/status" at QoS 1
    And actuator "worker2" in shared group "workers" subscribed to "clients/+/status" at QoS 1
    And actuator "auditor1" in shared group "auditors" subscribed to "clients/#" at QoS 0
    And actuator "auditor2" in shared group "auditors" subscribed to "clients/#" at QoS 0
    And "sensor1" is connected
    When "sensor1" resets its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once
    And the group "workers" receives "offline" on "clients/sensor1/status" exactly once
    And the group "auditors" receives "offline" on "clients/sensor1/status" exactly once

  @MQTT-4.8.2 @should @retain
  Scenario: A retained will is not sent on a $share subscribe, but is on a plain one
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And a new actuator "worker1" in shared group "workers" subscribing to "clients/sensor1/status" receives no retained message
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives "offline" retained
