@seed @eventgrid @tls
Feature: The Event Grid Last Will walkthrough, over TLS with client certificates
  The Azure Messaging blog's example ("Announcing MQTT Last Will and Testament Public Preview in
  Azure Event Grid", 2024-04-10), step by step. sensor1 and sensor2 may publish only on
  clients/<own name>/status (topic space lwtPub, binding sensorsPub); actuator1 and actuator2 may
  subscribe to clients/+/status (lwtSub, actuatorsSub). Every client authenticates with its own
  certificate (ThumbprintMatch) and its name as username, as `lwt-harness init eventgrid-lwt` writes
  them. Against a real namespace: `check --broker mqtts://… --identities DIR`.

  Background:
    Given the Event Grid walkthrough namespace
    # Step 2: the actuators subscribe to the will topics at QoS 1.
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And actuator "actuator2" subscribed to "clients/+/status" at QoS 1
    # Step 1: the sensors' Last-Will settings: topic clients/<name>/status, QoS 1, payload "offline".
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS 1

  @MQTT-3.1.2-8 @must @v5
  Scenario: Graceful disconnects send no will, abrupt ones reach both actuators (MQTT 5.0)
    Given "sensor1" is connected
    And "sensor2" is connected
    # Step 3: disconnect through the MQTT DISCONNECT packet: the will is discarded.
    When "sensor1" disconnects normally
    And "sensor2" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 1 second
    And "actuator2" receives nothing on "clients/+/status" for 0 seconds
    # Steps 4-5: connect again, then close the windows (the connections end without DISCONNECT).
    When "sensor1" connects
    And "sensor2" connects
    And the 2 sensors "sensor" close their connections
    # Step 6: both actuators receive both wills, and nothing else.
    Then "actuator1" receives "offline" once from each of the 2 sensors "sensor" within 2 seconds
    And "actuator2" receives "offline" once from each of the 2 sensors "sensor" within 2 seconds
    And "actuator1" has received exactly 2 messages on "clients/+/status"
    And "actuator2" has received exactly 2 messages on "clients/+/status"

  @MQTT-3.1.2-8 @must @v311
  Scenario: Graceful disconnects send no will, abrupt ones reach both actuators (MQTT 3.1.1)
    Given "sensor1" is connected
    And "sensor2" is connected
    When "sensor1" disconnects normally
    And "sensor2" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 1 second
    And "actuator2" receives nothing on "clients/+/status" for 0 seconds
    When "sensor1" connects
    And "sensor2" connects
    And the 2 sensors "sensor" close their connections
    Then "actuator1" receives "offline" once from each of the 2 sensors "sensor" within 2 seconds
    And "actuator2" receives "offline" once from each of the 2 sensors "sensor" within 2 seconds
    And "actuator1" has received exactly 2 messages on "clients/+/status"
    And "actuator2" has received exactly 2 messages on "clients/+/status"

  @MQTT-3.1.2-8 @must @v5
  Scenario: An abrupt reset of one sensor reaches both actuators, the other sensor's will stays armed
    Given "sensor1" is connected
    And "sensor2" is connected
    When "sensor1" resets its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 2 seconds
    And "actuator1" receives it at QoS 1
    And "actuator2" receives "offline" on "clients/sensor1/status" within 2 seconds
    And "actuator2" receives nothing on "clients/sensor2/status" for 0 seconds
