@eventgrid @tls
Feature: Event Grid client life-cycle events name why a session ended
  Event Grid publishes Microsoft.EventGrid.MQTTClientSessionConnected and
  MQTTClientSessionDisconnected events (CloudEvents 1.0) whose disconnectionReason tells an
  application why a client went away: ConnectionLost when the connection was lost, which is also
  when its will is published, ClientInitiatedDisconnect after a DISCONNECT packet, when there is
  none. The reference broker writes them to a JSON Lines file (fixtures/namespaces/README.md,
  "Client life-cycle events"), which these steps read; a real namespace delivers them to an Event
  Grid subscription instead, so there the life-cycle checks are skipped and the wills still judged.

  Background:
    Given the Event Grid walkthrough namespace
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1

  @v5 @must @EG-LCE-disconnection-reason
  Scenario: A reset connection publishes the will and is reported as ConnectionLost
    Given "sensor1" is connected
    Then the life-cycle event for "sensor1" says "Connected"
    When "sensor1" resets its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 2 seconds
    And the life-cycle event for "sensor1" says "ConnectionLost"

  @v311 @must @EG-LCE-disconnection-reason
  Scenario: MQTT 3.1.1: a DISCONNECT sends no will and is reported as ClientInitiatedDisconnect
    Given "sensor1" speaks MQTT 3.1.1
    And "sensor1" is connected
    When "sensor1" disconnects normally
    Then the life-cycle event for "sensor1" says "ClientInitiatedDisconnect"
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @v5 @must @EG-LCE-disconnection-reason
  Scenario: A takeover ends the old connection as SessionTakenOver, whose will is published
    Given "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 1
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 2 seconds
    And the latest life-cycle events for "sensor1" are "Connected, SessionTakenOver, Connected"
