/*
 * copy_es.h - every sentence a customer reads on WhatsApp, in one place
 * so a person can edit the tone (Rioplatense Spanish, "vos", short and
 * warm, as a good salesperson in Rosario writes).
 *
 * They are printf formats: keep each %s, %lld and %zu where it is, in the
 * same order (the compiler checks the arguments, not the words). Figures
 * (prices, stock, totals) are always filled in by Ovidio from the store.
 */
#ifndef OVIDIO_COPY_ES_H
#define OVIDIO_COPY_ES_H

/* ---- greeting ------------------------------------------------------- */
#define T_HELLO_NAME        "¡Hola %s!"
#define T_HELLO             "¡Hola!"
/* first contact ever: hello + who we are */
#define T_INTRO             "%s Soy Ovidio, el asistente de %s 👋"
#define T_HOW_CAN_I_HELP    "¿En qué te puedo ayudar?"

/* ---- search --------------------------------------------------------- */
#define T_LIST_LABEL        "Tengo estas opciones de *%s* 👇\n¿Cuál te interesa?"
#define T_LIST_PLAIN        "Tengo estas opciones 👇\n¿Cuál te interesa?"
#define T_LIST_FOR_QTY      "Tengo estas opciones 👇 ¿Cuál de estas querés (%lld)?"
#define T_LIST_BUTTON       "Ver productos"
#define T_LIST_SECTION      "Productos"
#define T_NOT_FOUND         "No encontré eso en el catálogo 🤔 ¿Me lo describís de otra forma? (marca, modelo o medida)"
#define T_NOT_FOUND_NAMED   "No encontré \"%s\" en el catálogo 🤔 ¿Me lo describís de otra forma? (marca, modelo o medida)"
#define T_ASK_WHAT          "Contame qué producto buscás (marca, modelo o medida) y te paso precio y stock."
#define T_CATALOG_DOWN      "Uy, ahora no puedo consultar el catálogo 😕 Probá de nuevo en un ratito."
#define T_WHICH_PRODUCT     "¿De qué producto me hablás? Decime marca, modelo o medida y te paso precio y stock."
#define T_WHICH_ROW         "¿Cuál de la lista? Decime el número (1 a %zu) o tocá la opción."
#define T_NO_SUCH_ROW       "En la lista que te pasé hay %zu opciones. ¿Cuál querés?"
#define T_NO_ATTR_MATCH     "Ninguna de la lista tiene eso. Te busco opciones 👇"

/* ---- one product ---------------------------------------------------- */
#define T_CARD              "*%s*\nCódigo %s\n%s\nTenemos %lld en stock.\n¿Cuántas necesitás?"
#define T_PRICE_PLUS_IVA    "%s + IVA (%s %%)"
#define T_PRICE_WITH_IVA    "%s IVA incluido"
#define T_PHOTO_CAPTION     "%s · %s"
#define T_PHOTO_NONE        "No tengo foto de %s (%s). ¿Querés que te pase la ficha un vendedor?"
#define T_PRICE_LINE        "%s: %s. Tenemos %lld en stock. ¿Cuántas necesitás?"
#define T_PRICE_LINE_NOSTOCK "%s: %s, pero ahora no tenemos stock."
#define T_NO_STOCK          "De %s (%s) no tenemos stock ahora 😕"
#define T_NO_STOCK_ALTS     "De %s no tenemos stock ahora 😕 Te dejo opciones parecidas que sí tenemos 👇"
#define T_ASK_GET_IT        "¿Querés que le pida a un vendedor que te lo consiga?"
#define T_STOCK_OK          "%s: sí, tenemos %lld, te alcanza 👌\n%s c/u.\n¿Te sumo las %lld al pedido?"
#define T_STOCK_SHORT       "De %s tenemos solo %lld."
#define T_STOCK_SHORT_ALTS  "De %s tenemos solo %lld. Te dejo opciones parecidas con stock 👇"
#define T_STOCK_SHORT_ASK   "¿Te sumo esas %lld al pedido?"
#define T_BTN_ADD           "Sumar al pedido"
#define T_BTN_PERSON        "Hablar con vendedor"

/* ---- the cart (el pedido) ------------------------------------------- */
#define T_CART_HEAD         "Tu pedido:"
#define T_CART_LINE         "\n• %lld × %s — %s c/u"
#define T_CART_SUBTOTAL     "\nSubtotal %s + IVA"
#define T_CART_ASK          "\n¿Te armo el presupuesto o sumás algo más?"
#define T_CART_EMPTY        "Todavía no sumaste nada al pedido. ¿Qué te busco?"
#define T_CART_ADDED        "Listo, sumé %lld × %s ✅"
#define T_CART_SET          "Listo, dejé %lld × %s ✅"
#define T_CART_REMOVED      "Listo, saqué %s del pedido ✅"
#define T_CART_NOW_EMPTY    "Listo, saqué %s. El pedido quedó vacío. ¿Buscamos otra cosa?"
#define T_CART_NOT_IN       "No tengo eso en tu pedido. ¿Cuál querés sacar?"
#define T_CART_WHICH        "¿De cuál? En tu pedido tenés:%s"
#define T_CART_FULL         "El pedido ya tiene muchos productos; para más, mejor que te lo arme un vendedor. ¿Te lo paso?"
#define T_CART_LOW_STOCK    " (ojo: hay %lld en stock)"
#define T_ASK_QTY_OF        "Dale, ¿cuántas unidades de %s?"
#define T_ITEM_NOT_FOUND    "No encontré \"%s\" en el catálogo."
#define T_BTN_QUOTE         "Armar presupuesto"

/* ---- quotes --------------------------------------------------------- */
#define T_QUOTE_HEAD        "Te armé el presupuesto N° %lld:"
#define T_QUOTE_LINE        "\n• %lld × %s — %s c/u"
#define T_QUOTE_SUBTOTAL    "\nSubtotal %s"
#define T_QUOTE_IVA21       "\nIVA 21 %%: %s"
#define T_QUOTE_IVA105      "\nIVA 10,5 %%: %s"
#define T_QUOTE_TOTAL       "\n*Total %s*"
#define T_QUOTE_ASK         "¿Te lo confirmo y te mando el PDF?"
#define T_QUOTE_CUIT        "Si me pasás tu CUIT, lo hago a nombre de tu empresa."
#define T_QUOTE_NOTHING     "¿Qué querés que te presupueste? Decime producto y cantidad (por ejemplo: 4 domos 2MP y 1 DVR 4 canales)."
#define T_QUOTE_FAILED      "No pude armar el presupuesto ahora 😕 ¿Querés que te lo arme un vendedor?"
#define T_QUOTE_NONE_PENDING "No tengo ningún presupuesto pendiente para confirmar. ¿Querés que te arme uno?"
#define T_QUOTE_EXPIRED     "Ese presupuesto ya venció. ¿Te armo uno nuevo con precios actualizados?"
#define T_PDF_FAILED        "No pude generar el PDF ahora 😕 ¿Querés que te lo mande un vendedor?"
#define T_PDF_HERE          "¡Listo! Te mando el presupuesto N° %lld en PDF 👇"
#define T_PDF_CAPTION       "Presupuesto N° %lld · válido hasta el %s"
#define T_PDF_AFTER         "Cualquier cosa me escribís por acá. ¿Necesitás algo más?"
#define T_CANCEL_NONE       "No tenés presupuestos pendientes. ¿Te ayudo con otra cosa?"
#define T_CANCEL_FAILED     "No pude cancelarlo ahora 😕 ¿Probamos de nuevo en un rato?"
#define T_CANCEL_DONE       "Listo, cancelé el presupuesto N° %lld. ¿Te ayudo con otra cosa?"
#define T_BTN_CONFIRM       "Confirmar"
#define T_BTN_CANCEL        "Cancelar"

/* ---- the account ---------------------------------------------------- */
#define T_ACCOUNT_WHO       "Para ver tu cuenta necesito saber quién sos: el saldo y las facturas los muestro solo al número registrado en tu cuenta. ¿Me pasás tu CUIT?"
#define T_ACCOUNT_NOT_YOURS "Por seguridad, el saldo y las facturas solo los muestro al WhatsApp que figura en la cuenta. Pedíselos a tu vendedor o escribinos desde ese número. ¿Te ayudo con otra cosa?"
#define T_ACCOUNT_DOWN      "No pude consultar tu cuenta ahora 😕 Probá en un rato. ¿Querés que te contacte un vendedor?"
#define T_BALANCE_NO_CTACTE "No tenés cuenta corriente abierta con nosotros, así que no hay saldo pendiente. ¿Te ayudo con otra cosa?"
#define T_BALANCE_OWED      "Tu saldo en cuenta corriente es de %s.\nLímite de crédito %s%s.\n¿Querés ver las últimas facturas?"
#define T_BALANCE_CLEAR     "No tenés saldo pendiente 🙌 (límite de crédito %s%s). ¿Querés ver las últimas facturas?"
#define T_BALANCE_TERM      ", plazo %lld días"
#define T_INVOICES_DOWN     "No pude traer tus facturas ahora 😕 Probá en un rato. ¿Querés que te contacte un vendedor?"
#define T_INVOICES_NONE     "No encontré facturas recientes en tu cuenta. ¿Te ayudo con otra cosa?"
#define T_INVOICES_HEAD     "Tus últimas facturas:"
#define T_INVOICES_LINE     "\n• %s · %s%s%s-%s · %s · %s"
#define T_INVOICES_END      "\n¿Necesitás algo más?"
#define T_INVOICE_CTACTE    "cuenta corriente"
#define T_INVOICE_CASH      "contado"

/* ---- identity ------------------------------------------------------- */
#define T_ID_VERIFIED       "¡Gracias! Ya te identifiqué como %s 🙌"
#define T_ID_PRICES_ONLY    "¡Gracias! Con ese CUIT te paso precios y presupuestos. El saldo y las facturas los muestro solo al WhatsApp registrado en la cuenta."
#define T_ID_BAD_CUIT       "Ese CUIT no me da: el dígito verificador no coincide 🤔 ¿Lo revisás?"
#define T_ID_UNKNOWN        "No encontré una cuenta con ese dato 🤔 ¿Lo revisás, o me pasás el CUIT o el e-mail de tu cuenta?"
#define T_ID_DOWN           "No pude verificar tus datos ahora 😕 Igual te ayudo con precios y stock."
#define T_ID_ASK            "¿Me pasás tu CUIT (11 números) o el e-mail de tu cuenta?"
#define T_ID_WHAT_NEXT      "¿Qué estás buscando hoy?"

/* ---- people --------------------------------------------------------- */
#define T_SORRY             "Perdoná las molestias 🙏"
#define T_HANDOFF_NOW       "Ya le pasé tu consulta a un vendedor y te va a escribir por acá en breve 🙌"
#define T_HANDOFF_LATER     "Ya le pasé tu consulta a un vendedor. Ahora estamos cerrados: te va a escribir %s 🙌"
#define T_HANDOFF_NOBODY    "Ahora no puedo avisarle a un vendedor 😕"

/* ---- the business --------------------------------------------------- */
#define T_BIZ_UNKNOWN       "Eso te lo confirma un vendedor."

/* ---- small talk ----------------------------------------------------- */
#define T_THANKS            "¡De nada! Cualquier cosa me escribís 🙌"
#define T_BYE               "¡Chau! Que andes muy bien 👋"
#define T_THUMBS            "🙌"
#define T_YES_NOTHING       "¡Dale! Contame qué necesitás: te busco productos con precio y stock, te paso tu saldo o te armo un presupuesto."
#define T_NO_OK             "Dale, sin problema. ¿Te ayudo con otra cosa?"
#define T_DONT_UNDERSTAND   "Perdón, no te entendí 🙈 Puedo buscarte productos con precio y stock, armarte un presupuesto o pasarte tu saldo. ¿Qué necesitás?"
#define T_NO_PICTURES       "¡Gracias! Por ahora no puedo ver imágenes ni archivos 🙏 ¿Me contás en un mensaje qué necesitás?"
#define T_TEXT_ONLY         "Por ahora solo puedo leer mensajes de texto 🙏 ¿Me lo escribís?"

/* ---- promotions ----------------------------------------------------- */
#define T_OPTED_OUT         "Listo, no te mando más promociones ni novedades. Si algún día querés volver a recibirlas, escribí ALTA."
#define T_OPTED_IN          "¡Genial! Te aviso de ofertas y novedades. Si querés dejar de recibirlas, escribí BAJA."

/* ---- proactive messages (lib/proactive) ----------------------------- */
#define T_PX_REMINDER       "Hola %s 👋 Tu presupuesto N° %s vence en %s días. ¿Lo confirmamos, o te lo renuevo con los precios de hoy?"
#define T_PX_FOLLOWUP       "Hola %s 👋 Hace unos días hablamos de %s. ¿Pudiste decidir? Si querés te armo un presupuesto o te busco alternativas."
#define T_PX_BACK_IN_STOCK  "Hola %s 👋 Volvió a entrar %s: %s. ¿Lo querés?"
#define T_PX_BALANCE        "Hola %s 👋 Te recordamos que la factura %s de %s %s. %s"
#define T_PX_BIRTHDAY       "¡Feliz cumpleaños, %s! 🎂 Que tengas un gran día."
#define T_PX_WEEKLY         "¡Buen comienzo de semana, %s! 👋 %s"
#define T_BTN_RENEW         "Renovar"
#define T_BTN_WANT          "Lo quiero"
#define T_BIRTHDAY_NOTED    "¡Anotado! 🎂 El %s te saludo."
#define T_PROMO_ASK         "¿Querés que te avise de ofertas y novedades por acá? Podés darte de baja cuando quieras."
#define T_BTN_PROMO_YES     "Sí, avisame"
#define T_BTN_PROMO_NO      "No, gracias"
#define T_RENEW_NONE        "No encontré ese presupuesto 🤔 ¿Te armo uno nuevo?"
/* ---- media from the customer (lib/enrich) -------------------------- */
#define T_VOICE_ECHO        "🎤 Entendí: «%s»"
/* %s: T_TOLD_SELLER when the salesperson was told, else "". */
#define T_VOICE_NO_KEY      "Todavía no puedo escuchar audios 🙏%s ¿Me lo escribís?"
#define T_VOICE_TOO_LONG    "El audio es largo para mí 🙏%s ¿Me escribís en pocas palabras qué necesitás?"
#define T_VOICE_FAILED      "No pude entender el audio 🙏%s ¿Me lo escribís?"
#define T_TOLD_SELLER       " Igual ya le avisé a un vendedor."
#define T_PHOTO_LEAD        "Encontré esto en tu foto: %s"
#define T_PHOTO_NO_VISION   "¡Gracias por la foto! Todavía no puedo verlas, así que se la paso a un vendedor."
#define T_PHOTO_UNREADABLE  "No pude leer productos en la foto 🙏 Se la paso a un vendedor."
#define T_PHOTO_UNMATCHED   "Leí en tu foto: %s, pero no encontré esos productos 🙏 Se la paso a un vendedor."
#define T_DOC_RECEIVED      "¡Recibí el archivo, gracias! Se lo paso a un vendedor para que lo revise."
#define T_LOCATION_THANKS   "¡Gracias por la ubicación! 📍 ¿En qué te puedo ayudar?"
#define T_CONTACT_THANKS    "¡Gracias por el contacto! ¿En qué te puedo ayudar?"
#define T_WHY_VOICE         "Nota de voz que Ovidio no pudo transcribir (%s, media %s)"
#define T_WHY_PHOTO         "Foto del cliente (media %s)%s"
#define T_WHY_DOCUMENT      "Documento del cliente (media %s)"
/* What the salesperson reads of a voice note Ovidio understood (the
 * inbox's transcript and the model's history), and why a customer's file
 * could not be kept for them. */
#define T_VOICE_SAID        "🎤 %s"
#define T_KEEP_TOO_BIG      "muy grande"
#define T_KEEP_GONE         "WhatsApp ya no lo tiene"
#define T_KEEP_SLOW         "tardó demasiado"
#define T_KEEP_FAILED       "falló la descarga"

#endif
