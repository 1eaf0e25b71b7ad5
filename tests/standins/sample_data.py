#!/usr/bin/python3
"""sample_data.py - the sample Cianbox account `make run` serves.

A realistic, deterministic catalog of a few hundred security products
(cameras, recorders, disks, power supplies, cabling, alarms, access
control, door phones, networking) and a dozen customers with their recent
sales, in the shapes of ../shared/fixtures/cianbox. Generated from a fixed
seed, so every run (and every machine) gets the same data:

    /usr/bin/python3 tests/standins/sample_data.py OUTDIR

writes OUTDIR/productos_page1.json, clientes_page1.json, ventas.json and
panel_productos.html: a fixtures folder for
`cianbox_server.py --fixtures OUTDIR`. Imported, `chat_customers()` gives
the customers as the local chat offers them (name, WhatsApp number).

Stdlib only.
"""

import html
import json
import os
import random
import sys

SEED = 20261124
FIRST_PRODUCT_ID = 10001
UPDATED = "2026-11-20 08:15:00"
CUIT_EMISOR = "30700000008"

# ---- products ----------------------------------------------------------

# (id_categoria, categoria)
CAT_CAMARAS = (3, "Cámaras")
CAT_GRABADORES = (4, "Grabadores")
CAT_DISCOS = (5, "Discos")
CAT_FUENTES = (6, "Fuentes")
CAT_CABLES = (7, "Cables")
CAT_CONECTORES = (8, "Conectores y balunes")
CAT_ALARMAS = (9, "Alarmas")
CAT_BATERIAS = (10, "Baterías")
CAT_REDES = (11, "Redes")
CAT_RACKS = (12, "Racks")
CAT_ACCESO = (13, "Control de acceso")
CAT_PORTEROS = (14, "Porteros")
CAT_ACCESORIOS = (15, "Accesorios")

BRAND_IDS = {}


def brand_id(name):
    if name not in BRAND_IDS:
        BRAND_IDS[name] = 1 + len(BRAND_IDS)
    return BRAND_IDS[name]


def product_specs():
    """(brand, category, code, name, description, USD net, IVA rate)."""
    out = []

    def add(brand, cat, code, name, desc, neto, iva=1.21):
        out.append((brand, cat, code, name, desc, neto, iva))

    lenses = (("2.8mm", "0280B"), ("3.6mm", "0360B"))
    # Dahua HDCVI: domo (HDW) and bala (HFW), by resolution and lens.
    for mp, model, base in ((1, "1100T", 17.9), (2, "1200T", 19.9),
                            (4, "1400T", 48.5), (5, "1500T", 34.9),
                            (8, "1800T", 62.0)):
        for lens, suffix in lenses:
            add("Dahua", CAT_CAMARAS, f"DH-HAC-HDW{model}P-{suffix}",
                f"Cámara Domo Dahua {mp}MP HAC-HDW{model} {lens}",
                f"Domo HDCVI {mp} MP, IR 30 m, lente {lens}, plástico",
                base)
            add("Dahua", CAT_CAMARAS, f"DH-HAC-HFW{model}P-{suffix}",
                f"Cámara Bala Dahua {mp}MP HAC-HFW{model} {lens}",
                f"Bala HDCVI {mp} MP, IR 20 m, lente {lens}, IP67",
                round(base * 1.12, 2))
        add("Dahua", CAT_CAMARAS, f"DH-HAC-HDW{model}P-A-0280B",
            f"Cámara Domo Dahua {mp}MP con audio HAC-HDW{model}-A 2.8mm",
            f"Domo HDCVI {mp} MP con micrófono incorporado", round(base * 1.2, 2))
    # Dahua IP and PTZ.
    for code, name, desc, neto in (
            ("DH-IPC-HDW1230S-0280B", "Cámara IP Domo Dahua 2MP HDW1230S 2.8mm",
             "IP 2 MP, IR 30 m, PoE, H.265", 39.9),
            ("DH-IPC-HFW1230S-0280B", "Cámara IP Bala Dahua 2MP HFW1230S 2.8mm",
             "IP 2 MP, IR 30 m, PoE, IP67", 42.5),
            ("DH-IPC-HDW1431S-0280B", "Cámara IP Domo Dahua 4MP HDW1431S 2.8mm",
             "IP 4 MP, IR 30 m, PoE, H.265+", 59.0),
            ("DH-IPC-HFW1431S-0360B", "Cámara IP Bala Dahua 4MP HFW1431S 3.6mm",
             "IP 4 MP, IR 30 m, PoE, IP67", 61.5),
            ("DH-IPC-HDW2431T-AS-0280B", "Cámara IP Domo Dahua 4MP WizSense audio",
             "IP 4 MP Starlight, SMD, micrófono y ranura SD", 98.0),
            ("DH-IPC-HFW2849S-S-IL-0360B", "Cámara IP Bala Dahua 8MP Full Color",
             "IP 4K, luz dual inteligente, PoE", 139.0),
            ("DH-SD22404T-GN", "Cámara PTZ Dahua 4MP 4x SD22404T",
             "Mini PTZ IP 4 MP, zoom óptico 4x, PoE", 189.0),
            ("DH-SD49225XA-HNR", "Cámara PTZ Dahua 2MP 25x SD49225XA",
             "PTZ IP 2 MP Starlight, zoom 25x, IR 100 m", 639.0),
            ("DH-SD59232XA-HNR", "Cámara PTZ Dahua 2MP 32x SD59232XA",
             "PTZ IP 2 MP, zoom 32x, IR 150 m, autotracking", 899.0),
            ("DH-SD1A203T-GN", "Cámara PTZ Dahua 2MP 3x SD1A203T",
             "PTZ IP compacta 2 MP, zoom 3x", 129.0)):
        add("Dahua", CAT_CAMARAS, code, name, desc, neto)
    # Hikvision Turbo HD.
    for mp, letter, base in ((1, "C", 15.9), (2, "D", 17.5), (5, "H", 31.9),
                             (8, "U", 58.0)):
        for lens, lmm in (("2.8mm", "2.8"), ("3.6mm", "3.6")):
            tag = "IRPF" if mp <= 2 else "ITPF"
            add("Hikvision", CAT_CAMARAS, f"DS-2CE56{letter}0T-{tag}-{lmm}",
                f"Cámara Domo Hikvision {mp}MP Turbo HD {lens}",
                f"Domo Turbo HD {mp} MP, IR 20 m, lente {lens}", base)
            add("Hikvision", CAT_CAMARAS, f"DS-2CE16{letter}0T-{tag}-{lmm}",
                f"Cámara Bala Hikvision {mp}MP Turbo HD {lens}",
                f"Bala Turbo HD {mp} MP, IR 20 m, lente {lens}, IP66",
                round(base * 1.1, 2))
    for code, name, desc, neto in (
            ("DS-2CE16D0T-IRPF", "Cámara Bala Hikvision 2MP DS-2CE16D0T-IRPF",
             "Bala Turbo HD 1080p, IR 20 m, lente 2.8 mm, IP66", 18.9),
            ("DS-2CE10DF3T-PF", "Cámara Bala Hikvision 2MP ColorVu",
             "Turbo HD 1080p a color de noche, luz blanca 20 m", 29.9),
            ("DS-2CE70DF3T-PF", "Cámara Domo Hikvision 2MP ColorVu",
             "Turbo HD 1080p a color de noche, luz blanca 20 m", 28.9),
            ("DS-2CE16D0T-EXIPF", "Cámara Bala Hikvision 2MP metálica IR 40 m",
             "Turbo HD 1080p, IR EXIR 40 m, carcasa metálica", 24.5),
            ("DS-2CD1023G0E-I", "Cámara IP Bala Hikvision 2MP DS-2CD1023G0E-I",
             "IP 2 MP, IR 30 m, PoE, H.265+", 41.0),
            ("DS-2CD1143G0-I", "Cámara IP Domo Hikvision 4MP DS-2CD1143G0-I",
             "IP 4 MP, IR 30 m, PoE, H.265+", 57.0),
            ("DS-2CD1043G0-I", "Cámara IP Bala Hikvision 4MP DS-2CD1043G0-I",
             "IP 4 MP, IR 30 m, PoE, IP67", 58.5),
            ("DS-2CD2047G2-L", "Cámara IP Bala Hikvision 4MP ColorVu AcuSense",
             "IP 4 MP a color de noche, AcuSense", 149.0),
            ("DS-2DE2A404IW-DE3", "Cámara PTZ Hikvision 4MP 4x mini",
             "Mini PTZ IP 4 MP, zoom 4x, IR 20 m, PoE", 179.0),
            ("DS-2DE4425IW-DE", "Cámara PTZ Hikvision 4MP 25x DarkFighter",
             "PTZ IP 4 MP, zoom 25x, IR 100 m", 589.0),
            ("DS-2AE4225TI-D", "Cámara PTZ Hikvision Turbo HD 2MP 25x",
             "PTZ Turbo HD 2 MP, zoom 25x, IR 100 m", 419.0)):
        add("Hikvision", CAT_CAMARAS, code, name, desc, neto)
    # Eyeball (turret) and full-colour variants.
    for mp, letter, base in ((2, "D", 18.9), (5, "H", 33.5), (8, "U", 61.0)):
        for lens, lmm in (("2.8mm", "2.8"), ("3.6mm", "3.6")):
            add("Hikvision", CAT_CAMARAS, f"DS-2CE76{letter}0T-ITPF-{lmm}",
                f"Cámara Eyeball Hikvision {mp}MP Turbo HD {lens}",
                f"Turret Turbo HD {mp} MP, IR 20 m, lente {lens}", base)
            add("Dahua", CAT_CAMARAS,
                f"DH-HAC-HDW1{mp}00TLMQ-{'0280B' if lmm == '2.8' else '0360B'}",
                f"Cámara Eyeball Dahua {mp}MP metálica {lens}",
                f"Eyeball HDCVI {mp} MP, IR 50 m, lente {lens}, metálica",
                round(base * 1.08, 2))
    for lens, suffix in (("2.8mm", "0280B"), ("3.6mm", "0360B")):
        add("Dahua", CAT_CAMARAS, f"DH-HAC-HFW1239T-A-LED-{suffix}",
            f"Cámara Bala Dahua 2MP Full Color con audio {lens}",
            "Bala HDCVI 2 MP a color de noche, luz blanca 20 m, micrófono", 27.5)
        add("Dahua", CAT_CAMARAS, f"DH-HAC-HDW1239T-A-LED-{suffix}",
            f"Cámara Domo Dahua 2MP Full Color con audio {lens}",
            "Domo HDCVI 2 MP a color de noche, luz blanca 20 m, micrófono", 26.5)
    # Imou and EZVIZ Wi-Fi cameras (consumer, also sold to installers).
    for brand, code, name, desc, neto in (
            ("Imou", "IPC-A22EP", "Cámara Wi-Fi Imou Ranger 2 1080p",
             "Domo robótica Wi-Fi 2 MP, 360°, audio bidireccional", 27.9),
            ("Imou", "IPC-A42P", "Cámara Wi-Fi Imou Ranger 2 4MP",
             "Domo robótica Wi-Fi 4 MP, 360°, seguimiento", 36.5),
            ("Imou", "IPC-K22P", "Cámara Wi-Fi Imou Cue 2 1080p",
             "Cubo Wi-Fi 2 MP, detección de personas", 21.9),
            ("Imou", "IPC-F22P", "Cámara Wi-Fi Imou Bullet Lite 2MP",
             "Bala Wi-Fi 2 MP exterior, IP67", 29.9),
            ("Imou", "IPC-F42P", "Cámara Wi-Fi Imou Bullet 2E 4MP",
             "Bala Wi-Fi 4 MP exterior, full color", 38.0),
            ("Imou", "IPC-S42FP", "Cámara Wi-Fi Imou Cruiser 4MP",
             "PTZ Wi-Fi exterior 4 MP, full color, sirena", 64.9),
            ("Imou", "IPC-S21FP", "Cámara Wi-Fi Imou Cruiser SE 2MP",
             "PTZ Wi-Fi exterior 2 MP, IP66", 44.9),
            ("EZVIZ", "CS-C6N-A0-1C2WFR", "Cámara Wi-Fi EZVIZ C6N 1080p",
             "Domo robótica Wi-Fi 2 MP, 360°, visión nocturna", 26.9),
            ("EZVIZ", "CS-C6N-4MP", "Cámara Wi-Fi EZVIZ C6N 4MP",
             "Domo robótica Wi-Fi 4 MP, seguimiento inteligente", 35.9),
            ("EZVIZ", "CS-C3TN-1080P", "Cámara Wi-Fi EZVIZ C3TN exterior",
             "Bala Wi-Fi 2 MP exterior, IR 30 m", 34.9),
            ("EZVIZ", "CS-H6C-1080P", "Cámara Wi-Fi EZVIZ H6c",
             "Domo Wi-Fi 2 MP, 360°, llamada con un toque", 24.9),
            ("EZVIZ", "CS-C8C-1080P", "Cámara Wi-Fi EZVIZ C8C exterior PTZ",
             "PTZ Wi-Fi exterior 2 MP, IR 30 m", 59.9),
            ("EZVIZ", "CS-H8C-2K", "Cámara Wi-Fi EZVIZ H8c 2K",
             "PTZ Wi-Fi exterior 3 MP, color de noche", 67.0),
            ("EZVIZ", "CS-C1C-B", "Cámara Wi-Fi EZVIZ C1C-B interior",
             "Cubo Wi-Fi 2 MP, audio bidireccional", 19.9)):
        add(brand, CAT_CAMARAS, code, name, desc, neto)
    # Recorders: XVR/DVR/NVR by channel count.
    for ch, base in ((4, 44.9), (8, 64.9), (16, 119.0)):
        add("Dahua", CAT_GRABADORES, f"DH-XVR1B{ch:02d}-I",
            f"XVR Dahua {ch} canales 1080p Lite XVR1B{ch:02d}",
            f"Pentahíbrido {ch} ch 1080N/720p, H.265, 1 disco", base)
        add("Dahua", CAT_GRABADORES, f"DH-XVR51{ch:02d}HS-I3",
            f"XVR Dahua {ch} canales 5MP WizSense XVR51{ch:02d}HS",
            f"Pentahíbrido {ch} ch 5M-N/1080p, IA, 1 disco",
            round(base * 1.6, 2))
        add("Dahua", CAT_GRABADORES,
            f"DH-NVR{'21' if ch < 16 else '42'}{ch:02d}HS-{ch}P-4KS2"
            if ch > 4 else "DH-NVR2104HS-P-S3",
            f"NVR Dahua {ch} canales PoE 4K" if ch > 4
            else "NVR Dahua 4 canales PoE",
            f"Grabador IP {ch} ch con {ch} puertos PoE", round(base * 1.9, 2))
        hcode = {4: "DS-7204HGHI-K1", 8: "DS-7208HGHI-K1",
                 16: "DS-7216HGHI-K1"}[ch]
        add("Hikvision", CAT_GRABADORES, hcode,
            f"DVR Hikvision {ch} canales Turbo HD 1080p",
            f"DVR {ch} ch 1080p lite, H.265+", round(base * 1.35, 2))
        add("Hikvision", CAT_GRABADORES, f"iDS-72{ch:02d}HQHI-M1/S",
            f"DVR Hikvision {ch} canales AcuSense 4MP",
            f"DVR {ch} ch 4 MP lite, AcuSense", round(base * 1.8, 2))
        ncode = {4: "DS-7104NI-Q1/4P", 8: "DS-7608NI-Q1/8P",
                 16: "DS-7616NI-Q2/16P"}[ch]
        add("Hikvision", CAT_GRABADORES, ncode,
            f"NVR Hikvision {ch} canales PoE",
            f"Grabador IP {ch} ch, {ch} puertos PoE, 4K", round(base * 2.1, 2))
    add("Imou", CAT_GRABADORES, "NVR1104HS-W-S2", "NVR Wi-Fi Imou 4 canales",
        "Grabador IP Wi-Fi 4 ch para cámaras Imou", 54.0)
    # Ready-made kits: cameras, recorder and disk.
    for brand, rec in (("Dahua", "XVR1B0{ch}-I"), ("Hikvision", "DS-72{ch:02d}HGHI-K1")):
        for ch in (4, 8):
            for mp, per_cam in ((2, 19.0), (5, 33.0)):
                code = f"KIT-{brand[:2].upper()}-{ch}CAM-{mp}MP"
                add(brand, CAT_GRABADORES, code,
                    f"Kit CCTV {brand} {ch} cámaras {mp}MP + grabador + disco 1 TB",
                    f"{ch} cámaras {mp} MP, grabador {rec.format(ch=ch)}, "
                    f"disco 1 TB, fuente y balunes",
                    round(ch * per_cam + (45 if ch == 4 else 65) + 44, 2))
    # Disks (computing: IVA 10.5 %).
    for tb, wd, sg, base in ((1, "WD10PURZ", "ST1000VX013", 44.0),
                             (2, "WD23PURZ", "ST2000VX017", 58.0),
                             (4, "WD43PURZ", "ST4000VX016", 92.0),
                             (6, "WD64PURZ", "ST6000VX009", 139.0),
                             (8, "WD85PURZ", "ST8000VE001", 189.0)):
        add("Western Digital", CAT_DISCOS, wd,
            f"Disco rígido WD Purple {tb} TB",
            f"Disco 3.5\" {tb} TB SATA para videovigilancia 24/7", base, 1.105)
        add("Seagate", CAT_DISCOS, sg,
            f"Disco rígido Seagate SkyHawk {tb} TB",
            f"Disco 3.5\" {tb} TB SATA para videovigilancia", round(base * 0.97, 2),
            1.105)
    for gb, neto in ((32, 6.9), (64, 9.9), (128, 15.9), (256, 27.0)):
        add("Kingston", CAT_DISCOS, f"SDCS2/{gb}GB",
            f"Memoria microSD Kingston {gb} GB Canvas Select",
            f"microSDXC {gb} GB clase 10 para cámaras Wi-Fi", neto, 1.105)
    # Power supplies.
    for amps, neto in ((1, 2.9), (2, 3.9), (3, 4.9), (5, 7.2), (10, 12.9),
                       (20, 22.5), (30, 31.0)):
        kind = "plástica" if amps <= 2 else "metálica"
        add("Genérica", CAT_FUENTES, f"FTE-12V{amps}A",
            f"Fuente switching 12V {amps}A {kind}",
            f"Fuente 12 V {amps} A para CCTV", neto)
        if amps >= 5:
            add("Genérica", CAT_FUENTES, f"FTE-12V{amps}A-CAJA",
                f"Fuente centralizada 12V {amps}A en gabinete",
                f"Gabinete con fuente 12 V {amps} A, 9 salidas con fusible",
                round(neto * 1.7, 2))
    add("Genérica", CAT_FUENTES, "FTE-12V1A-BLIST", "Fuente 12V 1A con ficha plug",
        "Transformador 12 V 1 A con plug 5.5 mm", 2.5)
    add("Genérica", CAT_FUENTES, "FTE-12V2A-BLIST", "Fuente 12V 2A con ficha plug",
        "Transformador 12 V 2 A con plug 5.5 mm", 3.4)
    add("Genérica", CAT_FUENTES, "FTE-UPS-12V3A", "Fuente 12V 3A con respaldo de batería",
        "Fuente con cargador para batería 12 V 7 Ah", 16.9)
    add("Genérica", CAT_FUENTES, "PULPO-4", "Pulpo de alimentación 1 a 4",
        "Divisor de alimentación plug 5.5 mm a 4 salidas", 0.9)
    add("Genérica", CAT_FUENTES, "PULPO-8", "Pulpo de alimentación 1 a 8",
        "Divisor de alimentación plug 5.5 mm a 8 salidas", 1.6)
    # Cabling: 305 m reels.
    for brand, cat, kind, neto in (
            ("Furukawa", "5e", "interior cobre", 189.0),
            ("Furukawa", "6", "interior cobre", 259.0),
            ("Furukawa", "5e", "exterior cobre", 229.0),
            ("Nexxt", "5e", "interior cobre", 149.0),
            ("Nexxt", "6", "interior cobre", 199.0),
            ("Genérica", "5e", "interior CCA", 69.0),
            ("Genérica", "5e", "exterior CCA", 84.0),
            ("Genérica", "6", "interior CCA", 95.0)):
        slug = kind.replace(" ", "-").upper()
        add(brand, CAT_CABLES, f"UTP{cat.upper()}-{brand[:3].upper()}-{slug}",
            f"Cable UTP cat{cat} {brand} {kind} bobina 305 m",
            f"Cable UTP categoría {cat}, 4 pares, {kind}, caja de 305 m", neto)
    add("Genérica", CAT_CABLES, "RG59-ALIM-305", "Cable coaxil RG59 + alimentación bobina 305 m",
        "Coaxil RG59 con 2 conductores de alimentación", 79.0)
    add("Genérica", CAT_CABLES, "RG59-ALIM-100", "Cable coaxil RG59 + alimentación rollo 100 m",
        "Coaxil RG59 con 2 conductores de alimentación", 29.0)
    add("Genérica", CAT_CABLES, "CABLE-ALARMA-4X22", "Cable para alarma 4x22 rollo 100 m",
        "Cable multifilar 4 conductores 0.22 mm con malla", 18.0)
    add("Genérica", CAT_CABLES, "CABLE-ALARMA-6X22", "Cable para alarma 6x22 rollo 100 m",
        "Cable multifilar 6 conductores 0.22 mm con malla", 24.0)
    add("Genérica", CAT_CABLES, "CABLE-TALLER-2X1", "Cable taller 2x1 mm rollo 100 m",
        "Cable tipo taller para alimentación", 39.0)
    for m, neto in ((1, 1.2), (2, 1.6), (3, 2.1), (5, 2.9)):
        add("Nexxt", CAT_CABLES, f"PATCH-C6-{m}M", f"Patch cord cat6 {m} m",
            f"Cable de red armado cat6, {m} m", neto)
    # Connectors and baluns.
    for code, name, desc, neto in (
            ("BALUN-PAS-HD", "Balun pasivo HD par (hasta 8MP)",
             "Par de video balun pasivo HDCVI/TVI/AHD hasta 8 MP", 2.4),
            ("BALUN-PAS-ALIM", "Balun pasivo con alimentación par",
             "Par de balun con bornera de alimentación y plug", 3.9),
            ("BALUN-ACT-RX4", "Balun activo receptor 4 canales",
             "Receptor activo 4 ch para UTP hasta 1200 m", 39.0),
            ("BALUN-ACT-RX16", "Balun activo receptor 16 canales",
             "Receptor activo 16 ch para rack", 119.0),
            ("BNC-TORN", "Conector BNC macho a tornillo",
             "BNC para RG59 a tornillo, bolsa x10", 2.2),
            ("BNC-COMP", "Conector BNC macho a compresión",
             "BNC para RG59 a compresión, bolsa x10", 3.5),
            ("BNC-BORNERA", "Conector BNC a bornera",
             "BNC macho con bornera, bolsa x10", 3.9),
            ("PLUG-DC-M", "Conector plug DC macho con bornera",
             "Plug 5.5 mm macho con bornera, bolsa x10", 1.8),
            ("PLUG-DC-H", "Conector plug DC hembra con bornera",
             "Plug 5.5 mm hembra con bornera, bolsa x10", 1.8),
            ("RJ45-C5E-100", "Fichas RJ45 cat5e x100",
             "Conector RJ45 cat5e, bolsa x100", 5.9),
            ("RJ45-C6-100", "Fichas RJ45 cat6 x100",
             "Conector RJ45 cat6 con guía, bolsa x100", 9.9),
            ("CAPUCHON-RJ45-100", "Capuchones para RJ45 x100",
             "Capuchón de goma para ficha RJ45, bolsa x100", 2.9),
            ("PINZA-RJ45", "Pinza crimpeadora RJ45/RJ11",
             "Pinza para fichas RJ45, RJ11 y RJ12", 9.5),
            ("TESTER-RJ45", "Tester de cable de red RJ45/RJ11",
             "Probador de continuidad para UTP", 6.9)):
        add("Genérica", CAT_CONECTORES, code, name, desc, neto)
    # Alarms: panels, keypads, sensors, sirens.
    for brand, code, name, desc, neto in (
            ("DSC", "PC1616", "Panel de alarma DSC PowerSeries 6/16 zonas",
             "Central 6 zonas expandible a 16, con gabinete y transformador", 89.0),
            ("DSC", "PC1832", "Panel de alarma DSC PowerSeries 8/32 zonas",
             "Central 8 zonas expandible a 32", 1000.0 / 8.5),
            ("DSC", "PC1864", "Panel de alarma DSC PowerSeries 8/64 zonas",
             "Central 8 zonas expandible a 64", 139.0),
            ("DSC", "HS2016", "Panel de alarma DSC Neo 6/16 zonas",
             "Central PowerSeries Neo 6 zonas, PowerG", 119.0),
            ("DSC", "HS2032", "Panel de alarma DSC Neo 8/32 zonas",
             "Central PowerSeries Neo 8 zonas, PowerG", 149.0),
            ("DSC", "PK5500", "Teclado DSC PK5500 alfanumérico",
             "Teclado LCD de 32 caracteres para PowerSeries", 79.0),
            ("DSC", "PC1555RKZ", "Teclado DSC PC1555RKZ de leds",
             "Teclado de 8 zonas de leds", 44.0),
            ("DSC", "HS2LCD", "Teclado DSC Neo HS2LCD",
             "Teclado LCD para PowerSeries Neo", 89.0),
            ("DSC", "LC-100-PI", "Sensor PIR DSC LC-100-PI",
             "Detector infrarrojo pasivo, 12 m, inmunidad mascotas 25 kg", 12.5),
            ("DSC", "LC-104-PIMW", "Sensor dual DSC LC-104-PIMW",
             "PIR + microondas, 15 m", 34.0),
            ("DSC", "PG9914", "Sensor PIR inalámbrico DSC PowerG",
             "PIR inalámbrico PowerG, inmunidad mascotas", 59.0),
            ("Garnet", "A2K4-NG", "Panel de alarma Garnet A2K4-NG 4 zonas",
             "Central 4 zonas con discador y módulo de control por app", 59.0),
            ("Garnet", "A2K8-NG", "Panel de alarma Garnet A2K8-NG 8 zonas",
             "Central 8 zonas, compatible con comunicador", 74.0),
            ("Garnet", "PC-732G", "Comunicador Garnet PC-732G 4G",
             "Comunicador GPRS/4G para centrales Garnet", 69.0),
            ("Garnet", "TECL-GARNET-LED", "Teclado Garnet de leds",
             "Teclado para A2K4/A2K8", 29.0),
            ("Garnet", "DP-15", "Sensor PIR Garnet DP-15",
             "Detector infrarrojo 12 m, ajuste de sensibilidad", 8.9),
            ("Garnet", "DP-15PT", "Sensor PIR Garnet DP-15 antimascotas",
             "Detector infrarrojo inmune a mascotas 20 kg", 10.9),
            ("X-28", "X28-MN6", "Panel de alarma X-28 MN6 6 zonas",
             "Central 6 zonas con control remoto y app", 64.0),
            ("X-28", "X28-MN12", "Panel de alarma X-28 MN12 12 zonas",
             "Central 12 zonas con comunicador", 98.0),
            ("X-28", "X28-TECL-TX", "Teclado X-28 táctil",
             "Teclado táctil para centrales X-28 serie MN", 39.0),
            ("X-28", "X28-PIR", "Sensor PIR X-28 cableado",
             "Detector infrarrojo 12 m", 9.5),
            ("X-28", "X28-CTRL", "Control remoto X-28",
             "Control remoto de 2 botones para X-28", 7.5),
            ("Genérica", "MAG-EMB", "Sensor magnético embutir",
             "Contacto magnético para embutir, cableado", 0.9),
            ("Genérica", "MAG-EXT", "Sensor magnético exterior",
             "Contacto magnético de aplicar, cableado", 1.1),
            ("Genérica", "MAG-PORTON", "Sensor magnético para portón",
             "Contacto magnético de alta distancia para portón", 4.9),
            ("Genérica", "SIR-EXT-20W", "Sirena exterior 12V 20W con flash",
             "Sirena exterior autoalimentada, gabinete policarbonato", 19.9),
            ("Genérica", "SIR-EXT-30W", "Sirena exterior 12V 30W",
             "Sirena exterior de 30 W sin batería", 14.5),
            ("Genérica", "SIR-INT-PIEZO", "Sirena interior piezoeléctrica 12V",
             "Sirena piezo interior, 110 dB", 4.5),
            ("Genérica", "SIR-INT-15W", "Sirena interior 12V 15W",
             "Sirena de bocina 15 W", 5.9),
            ("Genérica", "DET-HUMO-12V", "Detector de humo 12V cableado",
             "Detector fotoeléctrico de humo para central", 11.9)):
        add(brand, CAT_ALARMAS, code, name, desc, neto)
    # Batteries.
    for brand, ah, neto in (("Kaise", 4.5, 9.5), ("Kaise", 7, 12.9),
                            ("Kaise", 9, 17.9), ("Kaise", 12, 24.0),
                            ("Kaise", 18, 36.0), ("Ultracell", 7, 11.9),
                            ("Ultracell", 4.5, 8.9), ("Ultracell", 9, 16.5)):
        ahs = f"{ah:g}"
        add(brand, CAT_BATERIAS, f"BAT-{brand[:3].upper()}-12V{ahs.replace('.', '')}AH",
            f"Batería {brand} 12V {ahs}Ah",
            f"Batería de gel 12 V {ahs} Ah para alarmas y UPS", neto)
    # Networking (computing: IVA 10.5 %).
    for brand, code, name, desc, neto in (
            ("TP-Link", "TL-SF1005P", "Switch PoE TP-Link 5 puertos (4 PoE)",
             "Switch 10/100, 4 PoE, 58 W", 29.0),
            ("TP-Link", "TL-SF1008P", "Switch PoE TP-Link 8 puertos (4 PoE)",
             "Switch 10/100, 4 PoE, 57 W", 36.0),
            ("TP-Link", "TL-SG1008P", "Switch PoE TP-Link 8 puertos gigabit (4 PoE)",
             "Switch gigabit, 4 PoE, 64 W", 49.0),
            ("TP-Link", "TL-SF1016DS", "Switch TP-Link 16 puertos",
             "Switch 10/100 de 16 puertos, rackeable", 39.0),
            ("Hikvision", "DS-3E0105P-E", "Switch PoE Hikvision 4 puertos",
             "Switch 4 PoE + 1 uplink, 35 W", 31.0),
            ("Hikvision", "DS-3E0109P-E", "Switch PoE Hikvision 8 puertos",
             "Switch 8 PoE + 1 uplink, 60 W", 52.0),
            ("Hikvision", "DS-3E0318P-E", "Switch PoE Hikvision 16 puertos",
             "Switch 16 PoE + 2 uplink, 230 W", 149.0),
            ("Dahua", "PFS3006-4ET-60", "Switch PoE Dahua 4 puertos",
             "Switch 4 PoE + 2 uplink, 60 W", 34.0),
            ("Dahua", "PFS3010-8ET-96", "Switch PoE Dahua 8 puertos",
             "Switch 8 PoE + 2 uplink, 96 W", 58.0),
            ("TP-Link", "TL-WR840N", "Router Wi-Fi TP-Link TL-WR840N",
             "Router inalámbrico N 300 Mbps", 16.9),
            ("TP-Link", "ARCHER-C6", "Router Wi-Fi TP-Link Archer C6",
             "Router doble banda AC1200", 39.0),
            ("TP-Link", "CPE210", "Antena TP-Link CPE210 2.4 GHz",
             "Enlace inalámbrico exterior 300 Mbps", 34.0),
            ("Ubiquiti", "LBE-5AC-GEN2", "Antena Ubiquiti LiteBeam 5AC Gen2",
             "Enlace punto a punto 5 GHz", 79.0),
            ("Genérica", "INYECTOR-POE", "Inyector PoE 48V pasivo",
             "Inyector PoE para una cámara IP", 6.9)):
        add(brand, CAT_REDES, code, name, desc, neto, 1.105)
    # Racks.
    for u, neto in ((6, 49.0), (9, 69.0), (12, 89.0)):
        add("Genérica", CAT_RACKS, f"RACK-PARED-{u}U", f"Rack de pared {u}U 19\"",
            f"Rack mural {u} unidades, puerta de vidrio, 450 mm", neto)
    for code, name, desc, neto in (
            ("RACK-BANDEJA", "Bandeja fija para rack 19\"", "Bandeja ventilada 1U", 9.9),
            ("PATCHERA-24-C6", "Patchera 24 bocas cat6", "Patch panel 1U 24 puertos cat6", 29.0),
            ("ORDENADOR-1U", "Ordenador de cables 1U", "Organizador horizontal con tapa", 7.9),
            ("ZAPATILLA-RACK", "Zapatilla para rack 6 tomas", "Regleta 19\" con térmica", 19.0)):
        add("Genérica", CAT_RACKS, code, name, desc, neto)
    # Access control and locks.
    for brand, code, name, desc, neto in (
            ("Kallay", "KALLAY-4003", "Cerradura eléctrica Kallay 4003",
             "Cerradura eléctrica de embutir 12 V, mano universal", 42.0),
            ("Kallay", "KALLAY-4006", "Cerradura eléctrica Kallay 4006 para portón",
             "Cerradura eléctrica de aplicar para portón", 49.0),
            ("Genérica", "ELECTROIMAN-280", "Electroimán 280 kg (600 lb)",
             "Cerradura electromagnética 12 V con soporte", 24.0),
            ("Genérica", "ELECTROIMAN-180", "Electroimán 180 kg (350 lb)",
             "Cerradura electromagnética 12 V", 17.5),
            ("Genérica", "PULSADOR-SALIDA", "Pulsador de salida inox",
             "Pulsador NA/NC para control de acceso", 3.9),
            ("Genérica", "PULS-EMERG", "Pulsador de emergencia verde",
             "Rompevidrio de liberación para salidas", 6.5),
            ("ZKTeco", "ZK-K40", "Control de acceso ZKTeco K40 huella",
             "Lector biométrico y proximidad, 1000 huellas", 69.0),
            ("ZKTeco", "ZK-SF300", "Control de acceso ZKTeco SF300",
             "Huella, tarjeta y clave, TCP/IP", 99.0),
            ("ZKTeco", "ZK-KR600", "Lector de proximidad ZKTeco KR600",
             "Lector esclavo EM 125 kHz, Wiegand", 14.0),
            ("Genérica", "LLAVERO-EM", "Llavero de proximidad EM x10",
             "Tag 125 kHz, bolsa x10", 3.5),
            ("Genérica", "TARJETA-EM", "Tarjeta de proximidad EM x10",
             "Tarjeta 125 kHz, bolsa x10", 3.9)):
        add(brand, CAT_ACCESO, code, name, desc, neto)
    # Door phones.
    for brand, code, name, desc, neto in (
            ("Commax", "DP-2HPR", "Portero eléctrico Commax DP-2HPR",
             "Interfono para portero, 2 hilos", 29.0),
            ("Commax", "CDV-43K", "Videoportero Commax CDV-43K 4,3\"",
             "Monitor a color 4,3\" con frente de calle", 139.0),
            ("Commax", "CDV-70K", "Videoportero Commax CDV-70K 7\"",
             "Monitor a color 7\" con frente de calle", 189.0),
            ("Hikvision", "DS-KIS202T", "Videoportero Hikvision DS-KIS202T",
             "Kit de videoportero analógico 7\"", 129.0),
            ("Hikvision", "DS-KIS604-P", "Videoportero IP Hikvision DS-KIS604-P",
             "Kit de videoportero IP 2 hilos, app Hik-Connect", 249.0),
            ("Dahua", "DHI-VTO2202F-P", "Frente de videoportero IP Dahua VTO2202F",
             "Frente de calle IP 2 MP, PoE", 119.0),
            ("Dahua", "DHI-VTH2621G-P", "Monitor de videoportero Dahua VTH2621G",
             "Monitor IP 7\" táctil, PoE", 109.0),
            ("Imou", "DB11", "Timbre Wi-Fi Imou DB11",
             "Timbre con cámara 2 MP y audio bidireccional", 39.0),
            ("EZVIZ", "CS-DB2C", "Timbre Wi-Fi EZVIZ DB2C",
             "Timbre con cámara 2K, batería", 59.0),
            ("Kocom", "KDP-602A", "Portero eléctrico Kocom KDP-602A",
             "Kit portero con frente de calle y teléfono", 54.0)):
        add(brand, CAT_PORTEROS, code, name, desc, neto)
    # Accessories.
    for code, name, desc, neto in (
            ("CAJA-ESTANCA-10", "Caja estanca 10x10 para cámara",
             "Caja de paso exterior IP65", 1.5),
            ("CAJA-ESTANCA-15", "Caja estanca 15x15 para cámara",
             "Caja de paso exterior IP65", 2.4),
            ("SOPORTE-DOMO-PARED", "Soporte de pared para domo",
             "Soporte en L para domo", 5.9),
            ("SOPORTE-BALA-POSTE", "Soporte de poste para bala",
             "Adaptador para poste con zunchos", 7.9),
            ("MONITOR-22-HDMI", "Monitor 22\" HDMI/VGA para CCTV",
             "Monitor LED 22\" con parlantes", 99.0),
            ("MONITOR-19-VGA", "Monitor 19\" VGA/HDMI",
             "Monitor LED 19\" para DVR", 79.0),
            ("MOUSE-USB", "Mouse óptico USB",
             "Mouse para DVR/NVR", 2.9),
            ("GABINETE-DVR", "Gabinete metálico para DVR con cerradura",
             "Gabinete para DVR y fuente", 29.0),
            ("TRIPODE-CAM", "Trípode para cámara domo",
             "Trípode regulable para exhibición", 12.0),
            ("CINTA-AISL-10", "Cinta aisladora x10",
             "Cinta aisladora negra 20 m, pack x10", 3.9)):
        add("Genérica", CAT_ACCESORIOS, code, name, desc, neto)
    return out


def ean13(rnd):
    digits = [7, 7, 9] + [rnd.randrange(10) for _ in range(9)]
    s = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - s % 10) % 10)


def products():
    """The catalog, in id order, shaped like Cianbox's GET productos."""
    rnd = random.Random(SEED)
    out = []
    for i, (brand, cat, code, name, desc, neto, iva) in enumerate(product_specs()):
        neto = round(neto, 2)
        pid = FIRST_PRODUCT_ID + i
        r = rnd.random()
        if r < 0.14:
            stock = 0
        elif r < 0.30:
            stock = rnd.randint(1, 4)
        else:
            stock = rnd.randint(5, 180)
        reserved = min(stock, rnd.choice((0, 0, 0, 1, 2)))
        final = round(neto * iva, 2)
        day = 1 + rnd.randrange(20)
        updated = f"2026-11-{day:02d} {8 + rnd.randrange(10):02d}:{rnd.randrange(60):02d}:00"
        item = {
            "id": pid,
            "updated": updated,
            "producto": name,
            "id_marca": brand_id(brand),
            "marca": brand,
            "id_categoria": cat[0],
            "categoria": cat[1],
            "descripcion": desc,
            "codigo_interno": code,
            "codigo_barras": ean13(rnd) if rnd.random() < 0.7 else "",
            "vigente": True,
            "costo": round(neto * rnd.uniform(0.6, 0.75), 2),
            "precio_neto": neto,
            "precio_actualizado": updated[:10],
            "alicuota_iva": iva,
            "oferta": False,
            "precios": [{"id_lista_precio": 1, "updated": updated,
                         "id_moneda": 2, "neto": neto, "final": final,
                         "redondeo": 0, "neto_calculado": neto,
                         "final_calculado": round(neto * iva, 3)}],
            "stock_total": stock,
            "stock_sucursal": [{"id_sucursal": 1, "stock": stock,
                                "reservado": reserved,
                                "disponible": stock - reserved}],
            "imagenes": [],
        }
        if i % 9 == 4:   # Cianbox sends some numbers as strings
            item["precio_neto"] = f"{neto:.4f}"
            item["precios"][0]["neto"] = f"{neto:.4f}"
            item["precios"][0]["final"] = f"{final:.4f}"
        out.append(item)
    return out


# ---- customers ---------------------------------------------------------

def cuit(prefix, body):
    """A CUIT with its mod-11 check digit, or None when none exists."""
    digits = f"{prefix:02d}{body:08d}"
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    r = 11 - sum(int(d) * w for d, w in zip(digits, weights)) % 11
    if r == 11:
        r = 0
    if r == 10:
        return None
    return digits + str(r)


def valid_cuit(prefix, body):
    while True:
        c = cuit(prefix, body)
        if c is not None:
            return c
        body += 1


# (razon, contact name, condicion, prefix, dni/body, city, province,
#  national mobile (area, number), how Cianbox has the phones, e-mail,
#  ctacte, plazo, limite, saldo, descuento)
# Phone formats, as customers and clerks typed them into Cianbox:
#   f0 "0341 15-555-1234"        f1 "+54 9 341 555-1234"
#   f2 "341-5551234"             f3 "(0341) 155 551234"
#   f4 "0341 4211234 / 341 155551234" (landline, then the mobile)
#   f5 landline only (no WhatsApp match: identifies by CUIT or e-mail)
CUSTOMERS = [
    ("Gómez Martín Sistemas de Seguridad", "Martín Gómez", "RI", 20, 28456789,
     "Rosario", "Santa Fe", ("341", "5551234"), "f0",
     "martin@gomezseguridad.com.ar", True, 30, 5000, 1843.75, 5),
    ("Fernández Lucía", "Lucía Fernández", "CF", 27, 31222333,
     "CABA", "Buenos Aires", ("11", "44447777"), "f1",
     "lucia.fernandez@mail.com", False, 0, 0, 0, 0),
    ("Instalaciones del Litoral SRL", "Pablo Ferrari", "RI", 30, 71234999,
     "Rosario", "Santa Fe", ("341", "6123456"), "f4",
     "compras@litoralsrl.com.ar", True, 45, 20000, 7310.4, 8),
    ("Seguridad Integral Funes", "Carolina Sosa", "MT", 27, 33456123,
     "Funes", "Santa Fe", ("341", "3098765"), "f2",
     "caro.sosa@segintegralfunes.com", True, 15, 3000, 612.3, 3),
    ("Electricidad Oroño", "Diego Benítez", "RI", 20, 25987654,
     "Rosario", "Santa Fe", ("341", "5907788"), "f3",
     "ventas@electricidadorono.com.ar", True, 30, 8000, 0, 5),
    ("Monitoreo Sur SA", "Valeria Ríos", "RI", 30, 70955123,
     "Villa Gobernador Gálvez", "Santa Fe", ("341", "2554411"), "f1",
     "administracion@monitoreosur.com.ar", True, 60, 40000, 15420.0, 10),
    ("Acosta Ramiro", "Ramiro Acosta", "MT", 20, 36789012,
     "Santa Fe", "Santa Fe", ("342", "5123987"), "f0",
     "ramiroacosta.instalaciones@gmail.com", False, 0, 0, 0, 0),
    ("Redes y Cámaras Paraná", "Julieta Medina", "MT", 27, 29876543,
     "Paraná", "Entre Ríos", ("343", "4556677"), "f2",
     "julieta@redesycamaras.com.ar", True, 15, 2500, 2488.1, 0),
    ("Alarmas San Nicolás", "Hernán Quiroga", "RI", 20, 23111444,
     "San Nicolás", "Buenos Aires", ("336", "4223344"), "f3",
     "hquiroga@alarmassn.com.ar", True, 30, 6000, -85.0, 5),
    ("Córdoba Seguridad Electrónica SRL", "Natalia Paz", "RI", 30, 71555888,
     "Córdoba", "Córdoba", ("351", "6778899"), "f1",
     "natalia.paz@cbaseguridad.com.ar", True, 30, 12000, 4120.55, 7),
    ("Consorcio Edificio Mitre 850", "Administración Mitre", "EX", 30, 70444222,
     "Rosario", "Santa Fe", ("341", "4401234"), "f5",
     "admin.mitre850@gmail.com", False, 0, 0, 0, 0),
    ("Villalba Sergio", "Sergio Villalba", "CF", 20, 30111222,
     "Venado Tuerto", "Santa Fe", ("3462", "556677"), "f0",
     "sergio.villalba@hotmail.com", False, 0, 0, 0, 0),
]


def phone_fields(area, number, fmt):
    """(telefono, celular) as Cianbox has them."""
    n = number
    if fmt == "f0":
        return "", f"0{area} 15-{n[:-4]}-{n[-4:]}"
    if fmt == "f1":
        return "", f"+54 9 {area} {n[:-4]}-{n[-4:]}"
    if fmt == "f2":
        return "", f"{area}-{n}"
    if fmt == "f3":
        return "", f"(0{area}) 15{n[:1]} {n[1:]}"
    if fmt == "f4":
        return f"0{area} 4211234 / {area} 15{n}", ""
    return f"0{area} {n}", ""   # landline only


def clients():
    """The customers, in id order, shaped like Cianbox's GET clientes."""
    out = []
    for i, c in enumerate(CUSTOMERS):
        (razon, _, cond, prefix, body, city, prov, (area, number), fmt,
         email, ctacte, plazo, limite, saldo, desc) = c
        if cond == "CF":
            tipo, doc = "DNI", f"{body:08d}"
        else:
            tipo, doc = "CUIT", valid_cuit(prefix, body)
        tel, cel = phone_fields(area, number, fmt)
        out.append({
            "id": 201 + i,
            "updated": f"2026-10-{1 + i:02d} 11:20:05",
            "razon": razon,
            "condicion": cond,
            "tipo_documento": tipo,
            "numero_documento": doc,
            "domicilio": ["Mendoza 1450", "Av. Corrientes 3200", "Bv. Oroño 980",
                          "Hipólito Yrigoyen 1820", "Av. Pellegrini 2100",
                          "San Martín 455", "Bv. Gálvez 1550", "Urquiza 890",
                          "Nación 120", "Av. Colón 4100", "Mitre 850",
                          "Belgrano 777"][i],
            "localidad": city,
            "provincia": prov,
            "telefono": tel,
            "celular": cel,
            "email": email,
            "ctacte": ctacte,
            "plazo": plazo,
            "limite": limite,
            "saldo": saldo if i % 2 == 0 else f"{saldo:.4f}",
            "descuento": desc,
            "listas_precio": [1],
            "observaciones": "Paga con cheque a 30 días" if i == 2 else "",
            "id_categoria": str(i % 4),
        })
    return out


def chat_customers():
    """[(label, profile name, wa_id, phone as in Cianbox)] for the chat."""
    out = []
    for c, cl in zip(CUSTOMERS, clients()):
        area, number = c[7]
        wa_id = "549" + area + number
        if c[8] == "f5":
            # Only a landline on file: the person writes from a mobile
            # Cianbox does not have, so prices need their CUIT or e-mail.
            wa_id = "5493416998877"
        shown = cl["celular"] or cl["telefono"]
        out.append((c[0], c[1], wa_id, shown))
    return out


def ventas():
    """A few recent sales per customer (newest first overall)."""
    rnd = random.Random(SEED + 1)
    cl = clients()
    out = []
    numero = 12400
    vid = 87000
    for month, days in ((9, (3, 9, 17, 24)), (10, (2, 8, 15, 22, 29)),
                        (11, (3, 10, 14, 19))):
        for day in days:
            for c in rnd.sample(cl, 3):
                numero += 1
                vid += 1
                gravado = round(rnd.uniform(60, 2400), 2)
                iva = round(gravado * 0.21, 2)
                out.append({
                    "id": vid,
                    "fecha_carga": f"2026-{month:02d}-{day:02d} "
                                   f"{9 + rnd.randrange(9):02d}:{rnd.randrange(60):02d}:00",
                    "fecha": f"2026-{month:02d}-{day:02d}",
                    "cliente": [{"id": str(c["id"]), "nombre": c["razon"],
                                 "razon": c["razon"]}],
                    "cuit_emisor": CUIT_EMISOR,
                    "punto_venta": "0003",
                    "numero": f"{numero:08d}",
                    "exento": "0.0000",
                    "gravado": f"{gravado:.4f}",
                    "iva": f"{iva:.4f}",
                    "no_gravado": "0.0000",
                    "total": f"{gravado + iva:.4f}",
                    "cta_cte": "1" if c["ctacte"] and rnd.random() < 0.7 else "0",
                    "anulado": "0",
                    "id_moneda": "2",
                    "cotizacion": "1.0000",
                    "numero_documento_venta": c["numero_documento"],
                    "vigente": "1",
                })
    out.sort(key=lambda v: v["fecha_carga"], reverse=True)
    return out


# ---- output ------------------------------------------------------------

def envelope(module, body):
    return {"status": "ok", "scheme": "https", "host": "cianbox.org",
            "account": "micuenta", "module": module, "method": "GET",
            "page": 1, "total_pages": 1, "body": body}


def ar_number(v, decimals=2):
    s = f"{v:,.{decimals}f}"
    return s.replace(",", "X").replace(".", ",").replace("X", ".")


def panel_html(items):
    """The panel's product table (content.php, sec=pv_productos)."""
    rows = []
    for p in items:
        neto = float(p["precio_neto"])
        final = float(p["precios"][0]["final"])
        rows.append(
            f'<tr data-id="{p["id"]}"><td>{html.escape(p["marca"].upper())}</td>'
            f'<td>{html.escape(p["codigo_interno"])}</td>'
            f'<td>{html.escape(p["producto"])}</td>'
            f'<td>{ar_number(p["stock_total"], 0)}</td><td>1</td>'
            f'<td>{html.escape(p["categoria"])}</td>'
            f'<td>u$s {ar_number(final)}</td><td>u$s {ar_number(neto)}</td></tr>')
    return ('<div class="modulo"><table class="tabla" id="tabla_productos">\n'
            '<thead><tr><th>Marca</th><th>Código</th><th>Descripción</th>'
            '<th>Stock</th><th>Suc.</th><th>Rubro</th><th>Precio final</th>'
            '<th>Precio neto</th></tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table></div>\n")


def write_fixtures(outdir):
    """Write the four fixture files; returns (products, customers)."""
    os.makedirs(outdir, exist_ok=True)
    items = products()
    files = {
        "productos_page1.json": envelope("pv_productos", items),
        "clientes_page1.json": envelope("pv_clientes", clients()),
        "ventas.json": envelope("pv_ventas", ventas()),
    }
    for name, obj in files.items():
        with open(os.path.join(outdir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
    with open(os.path.join(outdir, "panel_productos.html"), "w",
              encoding="utf-8") as f:
        f.write(panel_html(items))
    return len(items), len(CUSTOMERS)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: sample_data.py OUTDIR\n")
        return 2
    n, c = write_fixtures(sys.argv[1])
    print(f"{n} products, {c} customers in {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
