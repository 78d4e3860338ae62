@v311
Feature: 3.1.1 will QoS and retain: the will is published with its own QoS and retain flag
  Will Retain 0 publishes a normal message, Will Retain 1 a retained one (MQTT-3.1.2-16/-17); a
  subscriber that was already subscribed sees RETAIN 0 (MQTT-3.3.1-9), a new one gets the stored copy
  with RETAIN 1 (MQTT-3.3.1-8). The will reaches each subscriber at the lower of its QoS and the
  subscription's (MQTT-3.8.4-6).

  Background:
    Given actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-16 @must
  Scenario: Will Retain 0: published without RETAIN and not stored for later subscribers
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives it with retain flag 0
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives no retained message

  @MQTT-3.1.2-17 @must @retain @mutant-will-retain-ignored @quick
  Scenario: Will Retain 1: a later subscriber gets the will as a retained message
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives it with retain flag 0
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives "offline" retained
    And "actuator2" receives it with retain flag 1

  @MQTT-3.1.2-17 @must @retain
  Scenario: A retained will replaces the retained "online" the sensor published
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" publishes retained "online" on "clients/sensor1/status" at QoS 1
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives "offline" retained

  @MQTT-3.1.2-17 @must @retain
  Scenario: A retained will with an empty payload is delivered empty and clears the retained topic
    MQTT-3.3.1-10/-11: a retained message with an empty payload removes the retained message.
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And the will of "sensor1" has an empty payload
    And "sensor1" publishes retained "online" on "clients/sensor1/status" at QoS 1
    When "sensor1" closes its connection
    Then "actuator1" receives "" on "clients/sensor1/status" within 1 second
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives no retained message

  @MQTT-3.8.4-6 @must @quick
  Scenario Outline: A will at QoS <will> reaches a QoS <sub> subscriber at QoS <delivered>
    Given sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS <will>
    And actuator "actuator3" subscribed to "clients/sensor2/status" at QoS <sub>
    And "sensor2" is connected
    When "sensor2" closes its connection
    Then "actuator3" receives "offline" on "clients/sensor2/status" within 1 second
    And "actuator3" receives it at QoS <delivered>

    Examples: the subscription allows the will's QoS
      | will | sub | delivered |
      | 0    | 1   | 0         |
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
      | 2    | 0   | 0         |
