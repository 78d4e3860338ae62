@v5
Feature: 5.0 Message Expiry of a retained will, and wills queued for a clean-start session that outlives its connection
  A retained will keeps its Message Expiry Interval: a subscriber that arrives later gets it with the
  time left (MQTT-3.3.2-6), and once the interval has passed nobody gets it any more (MQTT-3.3.2-5).
  A subscriber that connected with Clean Start 1 and a Session Expiry > 0 keeps its session after it
  goes offline (MQTT-3.1.2-23): a QoS 1 will published meanwhile is queued and delivered when it
  resumes.

  Background:
    Given actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.3.2-6 @must @retain
  Scenario: A retained will reaches a later subscriber with the expiry time left
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And the will of "sensor1" has message expiry 10 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    When 2.2 seconds pass
    Then a new actuator "late" subscribing to "clients/sensor1/status" receives "offline" retained
    And the delivered will carries a message expiry of at most 8 seconds

  @MQTT-3.3.2-5 @must @retain
  Scenario: A retained will whose expiry has passed is not delivered to a later subscriber
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And the will of "sensor1" has message expiry 1 second
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    When 3 seconds pass
    Then a new actuator "late" subscribing to "clients/sensor1/status" receives no retained message

  @MQTT-3.1.2-23 @must @qos1
  Scenario: A clean-start subscriber with a session expiry gets the will queued while it was offline
    Given actuator "actuator2" with a clean start and session expiry 60 seconds subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When actuator "actuator2" goes offline
    And 0.2 seconds pass
    And "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    When actuator "actuator2" comes back
    Then "actuator2" receives "offline" on "clients/sensor1/status" only once in 3 seconds
