@v5
Feature: 5.0 will QoS and retain: the will is published with its own QoS and retain flag
  Will Retain 0 publishes a normal message, Will Retain 1 a retained one (MQTT-3.1.2-14/-15). A
  subscriber with Retain As Published sees the flag as published (MQTT-3.3.1-13), one without sees 0
  (MQTT-3.3.1-12), and a later subscriber gets the stored copy. Each subscriber receives the will at
  the lower of its QoS and the subscription's (MQTT-3.8.4-8), exactly once at QoS 2.

  @MQTT-3.1.2-14 @must
  Scenario: Will Retain 0: published with RETAIN 0 even to a Retain As Published subscriber, and not stored
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1 with retain as published
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives it with retain flag 0
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives no retained message

  @MQTT-3.1.2-15 @must @retain @mutant-will-retain-ignored @quick
  Scenario: Will Retain 1: a Retain As Published subscriber sees RETAIN 1, a later subscriber gets the stored will
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1 with retain as published
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives it with retain flag 1
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives "offline" retained
    And "actuator2" receives it with retain flag 1

  @MQTT-3.1.2-15 @must @retain
  Scenario: Will Retain 1: a subscriber without Retain As Published sees RETAIN 0 (MQTT-3.3.1-12)
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives it with retain flag 0

  @MQTT-3.1.2-15 @must @retain
  Scenario: A retained will with an empty payload clears the retained "online"
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And the will of "sensor1" has an empty payload
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And "sensor1" publishes retained "online" on "clients/sensor1/status" at QoS 1
    When "sensor1" closes its connection
    Then "actuator1" receives "" on "clients/sensor1/status" within 1 second
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives no retained message

  @MQTT-3.8.4-8 @must @quick
  Scenario Outline: A will at QoS <will> reaches a QoS <sub> subscriber at QoS <delivered>
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS <will>
    And actuator "actuator1" subscribed to "clients/sensor1/status" at QoS <sub>
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives it at QoS <delivered>

    Examples: the subscription allows the will's QoS
      | will | sub | delivered |
      | 0    | 2   | 0         |
      | 1    | 1   | 1         |

    @qos2
    Examples: QoS 2 both ways
      | will | sub | delivered |
      | 2    | 2   | 2         |

    @mutant-will-qos-not-downgraded
    Examples: the subscription lowers the will's QoS
      | will | sub | delivered |
      | 1    | 0   | 0         |

    @qos2 @mutant-will-qos-not-downgraded
    Examples: the subscription lowers a QoS 2 will
      | will | sub | delivered |
      | 2    | 1   | 1         |

  @MQTT-3.1.2-8 @must @qos2 @mutant-will-twice
  Scenario: A QoS 2 will reaches a QoS 2 subscriber exactly once
    aedes #109: a QoS 2 will forwarded twice to a QoS 2 subscriber.
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 2
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 2
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" only once in 2 seconds
