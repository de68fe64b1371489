"""Transports: where bytes come from (serial lines, TCP, MQTT, Modbus buses); codecs live in ``protocols``."""
