@v5 @shared-subscriptions
Feature: 5.0 wills and shared subscriptions ($share/{group}/{filter})
  A will is published like any message (MQTT-3.1.2-8), so it reaches every non-shared subscriber
  and each shared subscription it matches. 4.8.2 defines a shared subscription as sending each
  message to only one of its sessions, in prose with no MUST keyword and no statement id: a second
  copy inside one group is judged at SHOULD under rule MQTT-4.8.2, while the will reaching the group
  at all is MQTT-3.1.2-8's MUST. "Only once" is proven: after the wait a unique probe published on
  the will topic must come back through the group, and every member through its own probe, before
  the copies are counted. Each member gets the lower of the will's QoS and its own granted QoS
  (MQTT-4.8.2-3); a retained will is not sent when a shared subscription is made (4.8.2); No Local
  on a shared subscription is a Protocol Error (MQTT-3.8.3-4), a broker close that fires the will.

  @MQTT-3.1.2-8 @must
  Scenario: A will reaches exactly one member of each of two groups and every non-shared subscriber
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And actuator "worker1" in shared group "workers" subscribed to "clients/+/status" at QoS 1
    And actuator "worker2" in shared group "workers" subscribed to "clients/+/status" at QoS 1
    And actuator "auditor1" in shared group "auditors" subscribed to "clients/#" at QoS 1
    And actuator "auditor2" in shared group "auditors" subscribed to "clients/#" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once
    And the group "workers" receives "offline" on "clients/sensor1/status" exactly once
    And the group "auditors" receives "offline" on "clients/sensor1/status" exactly once

  # 4.8.2: a QoS 1 message given to a member whose session then terminates "SHOULD" go to another
  # member of the same shared subscription. The disconnecting sensor joined first, so a plain
  # round-robin would pick it; its session ends with its connection (Session Expiry 0).
  @MQTT-4.8.2 @should @mutant-will-twice
  Scenario: A member that is itself the disconnecting client: its will goes to the group's other member
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is also in shared group "workers" subscribed to "clients/+/status" at QoS 1
    And actuator "worker2" in shared group "workers" subscribed to "clients/+/status" at QoS 1
    When "sensor1" closes its connection
    Then the group "workers" receives "offline" on "clients/sensor1/status" exactly once

  @MQTT-4.8.2-3 @must
  Scenario Outline: A member granted QoS <granted> gets a QoS <will> will at QoS <delivered>
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS <will>
    And actuator "worker1" in shared group "workers" subscribed to "clients/+/status" at QoS <granted>
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then the group "workers" receives "offline" on "clients/sensor1/status" exactly once
    And "worker1" receives it at QoS <delivered>

    Examples: the will's QoS is kept
      | will | granted | delivered |
      | 0    | 1       | 0         |

    @mutant-will-qos-not-downgraded
    Examples: the member's QoS lowers the will's
      | will | granted | delivered |
      | 1    | 0       | 0         |

    @qos2
    Examples: QoS 2 granted, the will's QoS kept
      | will | granted | delivered |
      | 1    | 2       | 1         |

    @qos2 @mutant-will-qos-not-downgraded
    Examples: QoS 2 will, the member's QoS lowers it
      | will | granted | delivered |
      | 2    | 1       | 1         |

  # 4.8.2: retained messages are not sent to a shared subscription when it is made; the plain
  # subscribe right after proves the will was retained (MQTT-3.3.1-9).
  @MQTT-4.8.2 @should @retain
  Scenario: A retained will is not sent on a $share subscribe, but is on a plain one
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And a new actuator "worker1" in shared group "workers" subscribing to "clients/sensor1/status" receives no retained message
    And a new actuator "actuator2" subscribing to "clients/sensor1/status" receives "offline" retained

  # MQTT-3.3.4-3; for a shared subscription only the receiving member's own identifier comes (3.3.4).
  @MQTT-3.3.4-3 @must
  Scenario: A will reaching a member carries the shared subscription's Subscription Identifier
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "worker1" in shared group "workers" subscribed to "clients/+/status" at QoS 1 with subscription identifier 7
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then the group "workers" receives "offline" on "clients/sensor1/status" exactly once
    And "worker1" receives it with subscription identifier 7

  @MQTT-3.8.3-4 @must
  Scenario: No Local on a shared subscription is a Protocol Error: the broker closes, and the will follows
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" subscribes in shared group "workers" to "clients/+/status" with No Local
    Then the broker closes the connection of "sensor1" with DISCONNECT 0x82
    And "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
