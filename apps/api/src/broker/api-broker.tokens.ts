/**
 * Injection token of the api role's one broker connection ({@link ServiceMqttClient}): live routing,
 * alert and rule announcements, device revocations, and the broker state /health reports.
 */
export const API_BROKER = Symbol('API_BROKER');
