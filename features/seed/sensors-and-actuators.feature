@seed
Feature: Sensors tell actuators when they drop off (the seeds' walkthrough)
  Sensors publish their will "offline" to clients/<name>/status at QoS 1. Actuators subscribe to
  clients/+/status at QoS 1 and change their behaviour when a sensor disappears abruptly.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And actuator "actuator2" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.14.4-3 @must @v5
  Scenario: A graceful disconnect sends no will
    Given "sensor1" is connected
    And "sensor2" is connected
    When "sensor1" disconnects normally
    And "sensor2" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds
    And "actuator2" receives nothing on "clients/+/status" for 0 seconds

  @MQTT-3.1.2-8 @must @v5
  Scenario: An abrupt disconnect publishes the sensor's will to both actuators
    Given "sensor1" is connected
    When "sensor1" loses its connection without DISCONNECT
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator1" receives it at QoS 1
    And "actuator2" receives "offline" on "clients/sensor1/status" within 1 second
    And "actuator2" receives it at QoS 1

  @MQTT-3.1.2-8 @must @v311
  Scenario: The same walkthrough with MQTT 3.1.1 clients
    Given "sensor2" is connected
    When "sensor2" resets its connection
    Then "actuator1" receives "offline" on "clients/sensor2/status" exactly once
    And "actuator2" receives "offline" on "clients/sensor2/status" exactly once
