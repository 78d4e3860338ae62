@eventgrid @tls @reference-only
Feature: Event Grid authorization: topic spaces and permission bindings decide PUBLISH and SUBSCRIBE
  A client may publish on a topic iff a Publisher binding of one of its groups has a topic space
  with a template matching it, substituted with the client's own authentication name and
  attributes; it may subscribe to a filter iff a Subscriber template covers the filter
  (eventgrid-model.md §3-4). Denials: v5 QoS 1 → PUBACK 0x87, v5 QoS 0 → dropped, v3.1.1 → the
  connection is closed; SUBSCRIBE → 0x87 (v3.1.1 0x80) for that filter only. Substituted values
  are literal: names containing `+`, `#` or `/` never widen a client's rights. The observer
  "watcher" may subscribe to everything (it listens on `#`), so absence is proven where it would
  show; its own probe topic lies outside `clients/#`, which is what absence is judged on.

  Background:
    Given the certificates:
      | name           | issuer |
      | sensor1        | self   |
      | sensor2        | self   |
      | sensor3        | self   |
      | nomad          | self   |
      | actuator1      | self   |
      | watcher        | self   |
      | acme           | self   |
      | intruder-slash | self   |
      | intruder-plus  | self   |
      | intruder-hash  | self   |
    And an Event Grid namespace with:
      """
      name: authz-test
      clients:
        - name: sensor1
          attributes: { type: sensor, floor: 3, area: north }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of sensor1>"]
        - name: sensor2
          attributes: { type: sensor, floor: 7, area: south }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of sensor2>"]
        - name: sensor3
          attributes: { type: sensor, floor: 1, area: east }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of sensor3>"]
        - name: nomad
          attributes: { type: wanderer }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of nomad>"]
        - name: actuator1
          attributes: { type: actuator }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of actuator1>"]
        - name: watcher
          attributes: { type: observer }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of watcher>"]
        - name: acme
          attributes: { type: tenant }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of acme>"]
        - name: intruder-slash
          authenticationName: "acme/admin"
          attributes: { type: tenant }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of intruder-slash>"]
        - name: intruder-plus
          authenticationName: "+"
          attributes: { type: sensor, area: "+" }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of intruder-plus>"]
        - name: intruder-hash
          authenticationName: "#"
          attributes: { type: tenant }
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of intruder-hash>"]
      clientGroups:
        - name: sensors
          query: attributes.type = 'sensor'
        - name: actuators
          query: attributes.type = 'actuator'
        - name: watchers
          query: attributes.type = 'observer'
        - name: low-floors
          query: attributes.type = 'sensor' AND attributes.floor <= 5
        - name: north-or-south
          query: attributes.area IN ['north', 'south'] OR authenticationName IN ['nomad', '+']
        - name: tenants
          query: attributes.type = 'tenant'
      topicSpaces:
        - name: lwtPub
          topicTemplates: ["clients/${client.authenticationName}/status"]
        - name: lwtSub
          topicTemplates: ["clients/+/status"]
        - name: areaPub
          topicTemplates: ["area/${client.attributes.area}/telemetry"]
        - name: lowPub
          topicTemplates: ["floors/low/#"]
        - name: tenantSpace
          topicTemplates: ["tenants/${client.authenticationName}/#"]
        - name: everything
          topicTemplates: ["#"]
        - name: harnessProbe
          topicTemplates: ["lwt-harness/probe/${client.authenticationName}"]
      permissionBindings:
        - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
        - { name: actuatorsSub, clientGroupName: actuators, topicSpaceName: lwtSub, permission: Subscriber }
        - { name: areasPub, clientGroupName: north-or-south, topicSpaceName: areaPub, permission: Publisher }
        - { name: lowPub, clientGroupName: low-floors, topicSpaceName: lowPub, permission: Publisher }
        - { name: tenantsPub, clientGroupName: tenants, topicSpaceName: tenantSpace, permission: Publisher }
        - { name: tenantsSub, clientGroupName: tenants, topicSpaceName: tenantSpace, permission: Subscriber }
        - { name: watchersSub, clientGroupName: watchers, topicSpaceName: everything, permission: Subscriber }
        - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
        - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
      """
    And actuator "watcher" subscribed to "#" at QoS 1

  @v5 @must @EG-AUTHZ-publish
  Scenario: A publish inside the client's topic space is acknowledged and delivered
    When "sensor1" tries to publish "online" on "clients/sensor1/status" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x00
    And "watcher" has received "online" on "clients/sensor1/status"

  @v5 @must @EG-AUTHZ-publish
  Scenario: A QoS 1 publish outside the topic space gets PUBACK 0x87 and reaches no one
    When "sensor1" tries to publish "forged" on "clients/sensor2/status" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x87
    And "watcher" receives nothing on "clients/#" for 1 second

  @v5 @must @EG-AUTHZ-publish
  Scenario: A QoS 0 publish outside the topic space is dropped silently
    When "sensor1" tries to publish "forged" on "clients/sensor2/status" at QoS 0
    Then the publish of "sensor1" is dropped and the connection stays open
    And "watcher" receives nothing on "clients/#" for 1 second

  @v311 @must @EG-AUTHZ-publish
  Scenario: An MQTT 3.1.1 publish outside the topic space closes the connection
    When "sensor1" tries to publish "forged" on "clients/sensor2/status" at QoS 1
    Then the publish of "sensor1" makes the broker close the connection
    And "watcher" receives nothing on "clients/#" for 1 second

  @v311 @must @EG-AUTHZ-publish
  Scenario: An MQTT 3.1.1 publish inside the topic space is acknowledged and delivered
    When "sensor1" tries to publish "online" on "clients/sensor1/status" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x00
    And "watcher" has received "online" on "clients/sensor1/status"

  @v5 @must @EG-AUTHZ-publish
  Scenario: Publisher does not imply Subscriber
    When "sensor1" tries to subscribe to "clients/sensor1/status" at QoS 1
    Then the subscriptions of "sensor1" are answered with "0x87"

  @v5 @must @EG-AUTHZ-subscribe
  Scenario: Each filter of a SUBSCRIBE is judged alone: covered filters are granted, the others refused
    When "actuator1" tries to subscribe to "clients/+/status, clients/#, clients/sensor1/status, other/topic" at QoS 1
    Then the subscriptions of "actuator1" are answered with "0x01, 0x87, 0x01, 0x87"

  @v311 @must @EG-AUTHZ-subscribe
  Scenario: MQTT 3.1.1: a refused filter gets 0x80, the others are granted
    When "actuator1" tries to subscribe to "clients/+/status, clients/#, clients/sensor1/status" at QoS 1
    Then the subscriptions of "actuator1" are answered with "0x01, 0x80, 0x01"

  @v5 @must @EG-AUTHZ-template
  Scenario: ${client.authenticationName} is the publishing client's own name
    When "sensor2" tries to publish "online" on "clients/sensor2/status" at QoS 1
    And "sensor1" tries to publish "forged" on "clients/sensor2/status" at QoS 1
    Then the publish of "sensor2" is acknowledged with reason code 0x00
    And the publish of "sensor1" is acknowledged with reason code 0x87

  @v5 @must @EG-AUTHZ-template
  Scenario: ${client.attributes.area} is the publishing client's own attribute
    When "sensor1" tries to publish "3 C" on "area/north/telemetry" at QoS 1
    And "sensor2" tries to publish "forged" on "area/north/telemetry" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x00
    And the publish of "sensor2" is acknowledged with reason code 0x87

  @v5 @must @EG-AUTHZ-template
  Scenario: A client without the attribute a template needs matches nothing, though its group is bound
    When "nomad" tries to publish "forged" on "area/north/telemetry" at QoS 1
    Then the publish of "nomad" is acknowledged with reason code 0x87

  @v5 @must @EG-AUTHZ-groups
  Scenario: A group query with AND and <= picks clients by attribute values
    When "sensor1" tries to publish "ok" on "floors/low/temp" at QoS 1
    And "sensor2" tries to publish "forged" on "floors/low/temp" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x00
    And the publish of "sensor2" is acknowledged with reason code 0x87

  @v5 @must @EG-AUTHZ-groups
  Scenario: A group query with IN and OR admits every listed value, and only those
    When "sensor2" tries to publish "12 C" on "area/south/telemetry" at QoS 1
    And "sensor3" tries to publish "forged" on "area/east/telemetry" at QoS 1
    Then the publish of "sensor2" is acknowledged with reason code 0x00
    And the publish of "sensor3" is acknowledged with reason code 0x87

  @v5 @must @EG-AUTHZ-injection
  Scenario: An authentication name "+" is no wildcard
    Given "intruder-plus" uses username "+"
    When "intruder-plus" tries to publish "forged" on "clients/sensor1/status" at QoS 1
    Then the publish of "intruder-plus" is acknowledged with reason code 0x87
    When "intruder-plus" tries to publish "forged" on "area/north/telemetry" at QoS 1
    Then the publish of "intruder-plus" is acknowledged with reason code 0x87
    And "watcher" has received exactly 0 messages on "clients/#"
    And "watcher" has received exactly 0 messages on "area/#"

  @v5 @must @EG-AUTHZ-injection
  Scenario: An authentication name "#" is no wildcard
    Given "intruder-hash" uses username "#"
    When "intruder-hash" tries to publish "forged" on "tenants/acme/orders" at QoS 1
    And "intruder-hash" tries to subscribe to "tenants/acme/#, tenants/#" at QoS 1
    Then the publish of "intruder-hash" is acknowledged with reason code 0x87
    And the subscriptions of "intruder-hash" are answered with "0x87, 0x87"

  @v5 @must @EG-AUTHZ-injection
  Scenario: An authentication name containing "/" stays inside one topic level
    Given "intruder-slash" uses username "acme/admin"
    When "intruder-slash" tries to publish "forged" on "tenants/acme/admin/orders" at QoS 1
    And "intruder-slash" tries to subscribe to "tenants/acme/admin/#" at QoS 1
    And "acme" tries to publish "order 1" on "tenants/acme/admin/orders" at QoS 1
    Then the publish of "intruder-slash" is acknowledged with reason code 0x87
    And the subscriptions of "intruder-slash" are answered with "0x87"
    And the publish of "acme" is acknowledged with reason code 0x00
