@v311
Feature: 3.1.1 keep-alive: a silent client is disconnected after 1.5 x keep-alive and its will published
  If nothing arrives from the client for one and a half times the Keep Alive, the broker MUST disconnect
  it as if the network had failed (MQTT-3.1.2-24), which publishes the will (MQTT-3.1.2-8). Not
  earlier (vernemq PR #275: 0.75 x timer heuristic), not much later (emqx #1334: backoff).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-24 @must @mutant-keep-alive-multiplier1 @mutant-keep-alive-multiplier25 @quick
  Scenario Outline: A silent sensor (socket open, nothing sent) with keep-alive <ka> s: will at 1.5 x keep-alive
    Given "sensor1" has keep-alive <ka> seconds
    And "sensor1" is connected
    When "sensor1" goes silent
    Then "actuator1" receives "offline" on "clients/sensor1/status" after the keep-alive deadline
    And the broker closes the connection of "sensor1"

    Examples:
      | ka |
      | 1  |
      | 2  |

  @MQTT-3.1.2-24 @must @mutant-keep-alive-multiplier1 @quick
  Scenario: A half-open connection (the network goes dark, no FIN, no RST): will at 1.5 x keep-alive
    Given "sensor1" has keep-alive 1 second
    And "sensor1" is connected
    When the network of "sensor1" goes dark
    Then "actuator1" receives "offline" on "clients/sensor1/status" after the keep-alive deadline

  @MQTT-3.1.2-24 @must
  Scenario: Control: a sensor pinging within its keep-alive keeps its connection and its will
    The timing of the will after the silence is judged by the scenarios above, not here: this control
    judges only that pings keep the connection and that the will is still armed, so it waits for the
    will well past any keep-alive deadline (a late broker fails the timing scenarios, not this one).
    Given "sensor1" has keep-alive 1 second
    And "sensor1" is connected
    When "sensor1" pings every 0.5 seconds for 3 seconds
    Then "actuator1" receives nothing on "clients/+/status" for 2.5 seconds
    When "sensor1" goes silent
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 10 seconds

  @MQTT-3.1.2-24 @must @quick
  Scenario: Control: a slow but live sensor (300 ms added each way) pinging within its keep-alive keeps its will
    The broker's keep-alive clock runs on what arrives: pings the network delays but that still arrive
    within 1.5 x keep-alive keep the connection; the will stays armed and comes once the link is cut.
    Given "sensor1" has keep-alive 1 second
    And "sensor1" is connected
    When the network of "sensor1" adds 300 ms of latency
    And "sensor1" pings every 0.5 seconds for 4 seconds
    Then "actuator1" receives nothing on "clients/+/status" for 3.5 seconds
    When the network of "sensor1" is cut with FIN
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once
