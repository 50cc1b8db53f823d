// Checks custom resources against the operators' schemas: reads a JSON list of resources on
// stdin, prints a JSON list of {kind, name, errors}. A resource of an API version the vendored
// operators no longer serve (Strimzi 1.0 removed kafka.strimzi.io/v1beta2) is an error too.
import { KafkaTopic } from "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1/KafkaTopic";
import { KafkaUser } from "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1/KafkaUser";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const MODELS = {
  "kafka.strimzi.io/v1 KafkaTopic": KafkaTopic,
  "kafka.strimzi.io/v1 KafkaUser": KafkaUser,
  "monitoring.coreos.com/v1 PrometheusRule": PrometheusRule,
  "monitoring.coreos.com/v1 ServiceMonitor": ServiceMonitor,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((resource) => {
  const model = MODELS[`${resource.apiVersion} ${resource.kind}`];
  const name = resource.metadata?.name;
  if (!model) {
    return { kind: resource.kind, name, errors: [`${resource.apiVersion} ${resource.kind} is not served`] };
  }
  try {
    new model(resource).validate();
    return { kind: resource.kind, name, errors: [] };
  } catch (error) {
    return { kind: resource.kind, name, errors: [String(error.message)] };
  }
});
console.log(JSON.stringify(results));
