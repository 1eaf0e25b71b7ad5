"""legacy_db.py - an `ovidio_db` as the old Python bot left it (issue 12).

The old bot wrote MongoDB documents of its own shape, which Ovidio must open
without failing and jobs/import-legacy must convert:

  clientes      {_id: ObjectId, telefono: "549341...", nombre,
                 conversaciones: [{rol: "usuario"|"asistente", mensaje,
                 fecha}], cianbox_id, cianbox_verificado,
                 marcas_preferidas: [...], acepta_promos,
                 fecha_nacimiento | cumpleanos | dia_cumple + mes_cumple}
                 several documents may carry one telefono;
  presupuestos  {_id: ObjectId, numero, telefono, cliente{nombre, telefono,
                 cuit}, productos[{codigo, descripcion, cantidad,
                 precioUSD, iva}], totales{subtotalUSD, ivaUSD, totalUSD},
                 estado, fecha_creacion, validezDias, notas}
                 with duplicate-free `numero` but no `number` field.

build(db) writes the fixture used by tests/integration/test_legacy.py;
bulk(db, customers, history, quotes) the benchmark's (bench/import).
"""
import datetime

from bson import ObjectId

UTC = datetime.timezone.utc

MARTIN = "5493415551234"     # Cianbox 201: celular 0341 15-555-1234
LUCIA = "5491144447777"      # Cianbox 202: +54 9 11 4444-7777
WRONG = "5493414401234"      # linked by the old bot to 203 ("4401234")
NOBODY = "5493416660000"     # never linked


def when(day, hour=10, minute=0):
    return datetime.datetime(2025, 11, day, hour, minute, tzinfo=UTC)


def build(db):
    db.clientes.insert_many([
        {"telefono": MARTIN, "nombre": "Martín",
         "conversaciones": [
             {"rol": "usuario", "mensaje": "hola, precio del DS-2CE16",
              "fecha": when(3, 9, 0)},
             {"rol": "asistente", "mensaje": "La DS-2CE16 sale USD 25 + IVA",
              "fecha": when(3, 9, 1)}],
         "cianbox_id": 201, "cianbox_verificado": True,
         "marcas_preferidas": ["Hikvision"], "acepta_promos": True,
         "fecha_nacimiento": "1984-03-14",
         "creado": when(1)},
        # The same number again (the old bot raced itself): merged.
        {"telefono": MARTIN, "nombre": "Martin G",
         "conversaciones": [
             {"rol": "usuario", "mensaje": "mandame el presupuesto",
              "fecha": when(4, 11, 0)}],
         "marcas_preferidas": ["Dahua", "Hikvision"],
         "creado": when(2)},
        {"telefono": LUCIA, "nombre": "Lucía",
         "conversaciones": [], "cianbox_id": 202,
         "cianbox_verificado": True, "acepta_promos": False,
         "cumpleanos": "21/07"},
        # Linked by suffix to a customer whose phone is "4401234": wrong.
        {"telefono": WRONG, "nombre": "Otro",
         "conversaciones": [
             {"rol": "usuario", "mensaje": "cuanto debo?",
              "fecha": when(5)}],
         "cianbox_id": 203, "cianbox_verificado": True,
         "dia_cumple": 2, "mes_cumple": 9},
        {"telefono": NOBODY, "conversaciones": "not a list",
         "marcas_preferidas": "Ajax"},
        # What the importer must skip, with a reason.
        {"nombre": "sin teléfono"},
        {"telefono": "abc", "nombre": "teléfono roto"},
    ])
    item = {"codigo": "DS-2CE16", "descripcion": "Cámara Hikvision 2MP",
            "cantidad": 2, "precioUSD": 25.0, "iva": 21}
    db.presupuestos.insert_many([
        {"numero": 56, "telefono": MARTIN,
         "cliente": {"nombre": "Gómez Martín", "telefono": MARTIN},
         "productos": [item],
         "totales": {"subtotalUSD": 50.0, "ivaUSD": 10.5, "totalUSD": 60.5},
         "estado": "enviado", "fecha_creacion": when(3, 9, 5),
         "validezDias": 15, "notas": ""},
        {"numero": 57, "telefono": LUCIA,
         "cliente": {"nombre": "Fernández Lucía", "telefono": LUCIA},
         "productos": [dict(item, cantidad=1),
                       {"codigo": "PK5501", "descripcion": "Teclado DSC",
                        "cantidad": 1, "precioUSD": 40.5, "iva": 10.5}],
         "totales": {"subtotalUSD": 65.5, "ivaUSD": 9.5, "totalUSD": 75.0},
         "estado": "cancelado", "fecha_creacion": when(4),
         "validezDias": 7},
        {"numero": 58, "telefono": MARTIN,
         "cliente": {"nombre": "Gómez Martín", "telefono": MARTIN},
         "productos": [dict(item, cantidad=4)],
         "totales": {"subtotalUSD": 100.0, "ivaUSD": 21.0,
                     "totalUSD": 121.0},
         "estado": "pendiente_confirmacion",
         "fecha_creacion": when(5, 12, 0), "validezDias": 15},
        {"numero": "x", "telefono": MARTIN, "productos": []},
    ])
    # The old bot's own indexes, made the way it made them.
    db.clientes.create_index("telefono")
    db.presupuestos.create_index("numero")


def bulk(db, customers, history, quotes, batch=1000):
    """customers old customers with history entries each, and quotes."""
    base = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    docs = []
    for i in range(customers):
        phone = "54934150%05d" % i
        conv = [{"rol": "usuario" if j % 2 == 0 else "asistente",
                 "mensaje": "mensaje %d del cliente %d sobre cámaras" % (j, i),
                 "fecha": base + datetime.timedelta(minutes=i * 60 + j)}
                for j in range(history)]
        docs.append({"telefono": phone, "nombre": "Cliente %d" % i,
                     "conversaciones": conv,
                     "marcas_preferidas": ["Hikvision"],
                     "acepta_promos": i % 2 == 0})
        if len(docs) >= batch:
            db.clientes.insert_many(docs)
            docs = []
    if docs:
        db.clientes.insert_many(docs)
    docs = []
    for n in range(1, quotes + 1):
        phone = "54934150%05d" % (n % max(customers, 1))
        docs.append({"numero": n, "telefono": phone,
                     "cliente": {"nombre": "Cliente", "telefono": phone},
                     "productos": [{"codigo": "C%d" % k,
                                    "descripcion": "Producto %d" % k,
                                    "cantidad": k + 1, "precioUSD": 10.5,
                                    "iva": 21} for k in range(3)],
                     "totales": {"subtotalUSD": 63.0, "ivaUSD": 13.23,
                                 "totalUSD": 76.23},
                     "estado": "enviado",
                     "fecha_creacion": base + datetime.timedelta(hours=n),
                     "validezDias": 15})
        if len(docs) >= batch:
            db.presupuestos.insert_many(docs)
            docs = []
    if docs:
        db.presupuestos.insert_many(docs)


if __name__ == "__main__":
    import sys
    import pymongo
    build(pymongo.MongoClient(sys.argv[1])[sys.argv[2] if len(sys.argv) > 2
                                            else "ovidio_db"])
    _ = ObjectId
