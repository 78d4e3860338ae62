@eventgrid @tls @reference-only
Feature: Event Grid will authorization: a will is a PUBLISH by its owner
  Event Grid does not document when a will is authorized (eventgrid-model.md §4, §8 #1). The
  reference broker checks it as a PUBLISH by the disconnecting client when it fires and drops it
  silently if its topic lies outside the client's Publisher topic spaces (`willAuthorization:
  atFire`, the default), or checks it at CONNECT and refuses the connection (`atConnect`: v5
  CONNACK 0x87, v3.1.1 0x05), which is what a reader of the announcement saw ("Connection refused:
  Not authorized" for a will topic without publish access). Either way no actuator may ever see a
  will its owner could not have published.

  Background:
    Given the certificates:
      | name      | issuer |
      | sensor1   | self   |
      | sensor2   | self   |
      | actuator1 | self   |
      | actuator2 | self   |

  Rule: Checked when the will fires (atFire, the default)

    Background:
      Given an Event Grid namespace with:
        """
        name: will-at-fire
        clients:
          - name: sensor1
            attributes: { type: sensor }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] }
          - name: sensor2
            attributes: { type: sensor }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] }
          - name: actuator1
            attributes: { type: actuator }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of actuator1>"] }
          - name: actuator2
            attributes: { type: actuator }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of actuator2>"] }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: actuators, query: "attributes.type = 'actuator'" }
        topicSpaces:
          - { name: lwtPub, topicTemplates: ["clients/${client.authenticationName}/status"] }
          - { name: lwtSub, topicTemplates: ["clients/+/status"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
          - { name: actuatorsSub, clientGroupName: actuators, topicSpaceName: lwtSub, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """
      And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
      And actuator "actuator2" subscribed to "clients/+/status" at QoS 1
      And sensor "sensor1" with will "sensor2 is gone (forged by sensor1)" on "clients/sensor2/status" at QoS 1
      And sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS 1

    @v5 @must @EG-WILL-authorization
    Scenario: A will outside its owner's topic space never reaches an actuator
      Given "sensor1" is connected
      When "sensor1" resets its connection
      Then "actuator1" receives nothing on "clients/+/status" for 2 seconds
      And "actuator2" receives nothing on "clients/+/status" for 0 seconds

    @v5 @must @EG-WILL-authorization
    Scenario: The authorized will of another sensor still arrives, the forged one does not
      Given "sensor1" is connected
      And "sensor2" is connected
      When "sensor1" resets its connection
      And "sensor2" resets its connection
      Then "actuator1" receives "offline" on "clients/sensor2/status" within 2 seconds
      And "actuator2" receives "offline" on "clients/sensor2/status" within 2 seconds
      And "actuator1" has received exactly 1 message on "clients/+/status"
      And "actuator2" has received exactly 1 message on "clients/+/status"

    @v311 @must @EG-WILL-authorization
    Scenario: MQTT 3.1.1: a will outside its owner's topic space never reaches an actuator
      Given "sensor1" is connected
      When "sensor1" loses its connection without DISCONNECT
      Then "actuator1" receives nothing on "clients/+/status" for 2 seconds
      And "actuator2" receives nothing on "clients/+/status" for 0 seconds

  Rule: Checked at CONNECT (atConnect)

    Background:
      Given an Event Grid namespace with:
        """
        name: will-at-connect
        settings:
          willAuthorization: atConnect
        clients:
          - name: sensor1
            attributes: { type: sensor }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] }
          - name: sensor2
            attributes: { type: sensor }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] }
          - name: actuator1
            attributes: { type: actuator }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of actuator1>"] }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: actuators, query: "attributes.type = 'actuator'" }
        topicSpaces:
          - { name: lwtPub, topicTemplates: ["clients/${client.authenticationName}/status"] }
          - { name: lwtSub, topicTemplates: ["clients/+/status"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
          - { name: actuatorsSub, clientGroupName: actuators, topicSpaceName: lwtSub, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """
      And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
      And sensor "sensor1" with will "sensor2 is gone (forged by sensor1)" on "clients/sensor2/status" at QoS 1
      And sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS 1

    @v5 @must @EG-WILL-authorization
    Scenario: A will outside the topic space refuses the CONNECT with 0x87
      When "sensor1" tries to connect
      Then "sensor1" is refused with reason code 0x87
      And "actuator1" receives nothing on "clients/+/status" for 1 second

    @v311 @must @EG-WILL-authorization
    Scenario: MQTT 3.1.1: a will outside the topic space refuses the CONNECT with 0x05
      When "sensor1" tries to connect
      Then "sensor1" is refused with reason code 0x05
      And "actuator1" receives nothing on "clients/+/status" for 1 second

    @v5 @must @EG-WILL-authorization
    Scenario: A will inside the topic space is accepted and delivered
      When "sensor2" tries to connect
      Then "sensor2" is accepted
      When "sensor2" resets its connection
      Then "actuator1" receives "offline" on "clients/sensor2/status" within 2 seconds
