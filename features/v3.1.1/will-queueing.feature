@v311
Feature: 3.1.1 wills queued for a persistent subscriber while it is offline
  After a Clean Session 0 subscriber disconnects, the broker MUST store the QoS 1 and QoS 2 messages
  that match its subscriptions (MQTT-3.1.2-5), a will among them, and deliver them when the session
  resumes (MQTT-3.1.2-4).

  @MQTT-3.1.2-5 @must @qos1
  Scenario: A QoS 1 will published while a persistent subscriber was offline is delivered when it resumes
    Given actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And actuator "actuator2" with a persistent session subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When actuator "actuator2" goes offline
    And 0.2 seconds pass
    And "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    When actuator "actuator2" comes back
    Then "actuator2" receives "offline" on "clients/sensor1/status" only once in 3 seconds
