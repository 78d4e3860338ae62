@known-bugs
Feature: Known bugs: takeover wills, retained wills, duplicate and leftover wills
  One scenario per bug class of reference section 3 that a black-box test reaches.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @v311 @MQTT-3.1.4-2 @MQTT-3.1.2-8 @must
  Scenario: 3.1.1 takeover: the will of the replaced connection is published
    emqx #10551 (EMQX 5.0.19): the will of the replaced connection was not published.
    Given "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 1
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @v5 @MQTT-3.1.4-3 @MQTT-3.1.2-8 @must @will-delay
  Scenario: 5.0 takeover of a session with expiry 0 and a will delay: the will goes out at once
    emqx #18565 (PR #18582): SEI=0 + WDI>0 and a takeover silently dropped the will.
    Given the will of "sensor1" has delay 2 seconds
    And "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 0
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @v311 @MQTT-3.1.2-17 @must @retain @mutant-will-retain-ignored
  Scenario: The Will Retain flag is honoured: a later subscriber gets the will retained
    nanomq #2012, rabbitmq/rabbitmq-mqtt #74, moquette-io/moquette #171: the will was not stored as
    retained.
    Given sensor "sensor2" with retained will "offline" on "clients/sensor2/status" at QoS 1
    And "sensor2" is connected
    When "sensor2" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor2/status" within 1 second
    And a new actuator "actuator2" subscribing to "clients/sensor2/status" receives "offline" retained

  @v311 @MQTT-3.1.2-10 @must @qos2 @mutant-will-twice
  Scenario: A QoS 2 will reaches a QoS 2 subscriber exactly once
    aedes #109: a QoS 2 will was forwarded twice to a QoS 2 subscriber.
    Given sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS 2
    And actuator "actuator2" subscribed to "clients/sensor2/status" at QoS 2
    And "sensor2" is connected
    When "sensor2" closes its connection
    Then "actuator2" receives "offline" on "clients/sensor2/status" within 1 second
    And "actuator2" receives it at QoS 2
    And "actuator2" receives "offline" on "clients/sensor2/status" only once in 2 seconds

  @v311 @MQTT-3.1.2-10 @must @mutant-will-twice
  Scenario: Closing twice gives one will, and the published will is not republished later
    aedes #180 (PR #181): the will was not removed from persistence after publishing (risk of a second
    publication); aedes test/will.js "closing twice gives one will".
    Given "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" only once in 1.5 seconds
    When "sensor1" reconnects without a will after 1.5 seconds
    And "sensor1" closes its connection
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds

  @v311 @MQTT-3.1.2-8 @must
  Scenario: Twenty sensors dropping at once each publish their will
    mosquitto #26 (open): some wills never sent under many parallel connections; nanomq #349: no
    will at all with the default configuration.
    Given 20 connected sensors "node" with will "offline" on "clients/node<n>/status" at QoS 1
    When the 20 sensors "node" close their connections
    Then "actuator1" receives "offline" once from each of the 20 sensors "node" within 3 seconds
