#!/usr/bin/env python3
"""Generate the labelled e-commerce intent set (train.tsv / test.tsv).

Why generated: no public Arabic-dialect e-commerce intent corpus fits our labels, so the
base phrasings below are hand-written (Gulf, Egyptian, Levantine, MSA, Arabizi, English)
and expanded with slot fillers, greetings, politeness, typos and emoji.
The split is by BASE PHRASE (every 4th phrase of each intent goes to test), so test
messages use wordings the model never saw, not just new fillers.
Deterministic: python3 generate.py  (seed fixed)."""
import random, os

random.seed(20261122)
ORDER = ["#4521", "12345", "٧٨٩٠١", "SA-88213", "رقم 5531", "", "", ""]
PRODUCT = ["الجوال", "الفستان", "العطر", "الساعة", "الشنطة", "الجزمة", "السماعة", "الكريم", "القميص", "البلوزة"]
PRODUCT_EN = ["phone", "dress", "perfume", "watch", "bag", "shoes", "headphones", "cream", "shirt", "jacket"]
DAYS = ["يومين", "اسبوع", "3 ايام", "عشر ايام", "اسبوعين"]
DAYS_EN = ["two days", "a week", "3 days", "10 days", "two weeks"]

I = {}
I["where_is_my_order"] = [
    "my package is late", "the parcel still says in transit", "when does my order arrive", "any update on my order?", "وصلت الشحنة ولا لسه", "الطلب عالق عند شركة الشحن", "المندوب قال بيجي امس وما جا", "وين طلبي {o}", "وين الطلب حقي", "طلبي ما وصل لين الحين", "صار لي {d} انتظر الطلب", "متى يوصل الطلب",
    "فين الاوردر بتاعي", "الاوردر لسه موصلش", "الطلب اتأخر ليه", "امتى الشحنة هتوصل", "عايز اعرف الاوردر فين",
    "وين صارت الطلبية", "بدي اعرف وين وصلت الطلبية", "ايمتى بتوصل الطلبية", "الطلبية تأخرت كتير",
    "أين طلبي؟", "متى سيصل طلبي رقم {o}", "لم يصلني الطلب حتى الآن", "أريد تتبع الشحنة",
    "where is my order {o}", "my order hasn't arrived yet", "when will my package be delivered",
    "can i get the tracking number", "it's been {de} and no delivery", "track my order please",
    "3ayez a3raf el order fen", "fen el order", "el order lesa mawsalsh", "wein talabi", "emta el shohna tewsal",
    "وش صار على طلبي", "ابي رقم التتبع", "الشحنة واقفة من {d}", "المندوب ما جاني", "order status?",
    "طلبي رقم {o} وين وصل", "is my order shipped yet", "has my order shipped", "lsa ma wsl el talab",
    "الشحنة ما تحركت من يومين", "متى بيجيني المندوب", "ليش الطلب للحين قيد التجهيز", "فين الشحنة يا جماعة",
    "is my parcel lost?", "tracking shows no update", "how long until it ships", "el shohna fen", "emta hyegy el mandoub"
]
I["cancel"] = [
    "please cancel order {o}", "i ordered by mistake, cancel it", "cancel the whole order", "ابي الغي واحد من المنتجات", "ممكن تلغون الطلب قبل ما ينشحن", "الغي الطلبية يا ريت", "ابي الغي الطلب", "ابغى الغي طلبي {o}", "الغوا الطلب لو سمحت", "ابي اكنسل الطلب", "كنسلوا الاوردر",
    "عايز الغي الاوردر", "من فضلك الغي الطلب", "مش عايز الطلب خلاص الغوه", "بدي الغي الطلبية",
    "لغولي الطلبية", "ما بدي الطلب بعد", "أرغب في إلغاء الطلب", "الرجاء إلغاء طلبي رقم {o}",
    "cancel my order", "i want to cancel order {o}", "please cancel it", "how do i cancel my order",
    "ana 3ayez alghi el talab", "abi alghi el order", "cancel el order law sama7t", "alghi el talabiya",
    "غيرت رايي ابي الغي", "لا ترسلون الطلب الغوه", "can you cancel before it ships", "كنسل الاوردر يا باشا",
    "الغاء الطلب", "ابي الغاء الاوردر قبل الشحن", "ممكن تلغي الطلب", "I changed my mind, cancel please",
    "i don't want the order anymore", "stop my order", "لا عاد ابيه الغوه",
    "i want to cancel, it takes too long", "الغي الطلب ما عاد احتاجه", "cancel it please", "kansel el order"
]
I["return"] = [
    "how can i send the item back", "i want to return the shoes", "returning an item", "بدي ارجع الطلبية لأنها مش متل الصورة", "المنتج ما عجبني وابي ارجعه", "ابي اسوي طلب ارجاع", "فين مكان الارجاع", "ارجاع القطعة", "كيف اسوي مرتجع",
    "عايز اعمل مرتجع", "بدي رجع الطلبية كلها", "i'd like to return it", "start a return", "el return ezay",
    "هل الارجاع مجاني", "ابي ارجع المنتج", "ابغى ارجع {p}", "كيف ارجع الطلب", "ابي استرجع القطعة", "عايز ارجع {p}",
    "ازاي ارجع المنتج", "عايز ارجعه مش عاجبني", "بدي رجع {p}", "كيف برجع الطلبية", "بدي ارجع الغرض",
    "أرغب في إرجاع المنتج", "ما هي سياسة الإرجاع", "كيف يمكنني إرجاع الطلب", "return the {pe}",
    "i want to return this item", "how do i return my order", "what's your return policy",
    "3ayez arga3 el montag", "abi arja3 el {pe}", "kif arja3 el talab", "ارجاع", "ابي ارجعه المقاس مو مضبوط",
    "المنتج معيوب ابي ارجعه", "can i send it back", "i need a return label", "ينفع ارجعه بعد اسبوع؟",
    "هل يمكن ارجاع المنتج المفتوح", "مدة الاسترجاع كم يوم", "return request for order {o}",
    "ابي ارجع نص الطلب", "how many days do i have to return",
]
I["refund"] = [
    "i still haven't received my money back", "when do i get my money", "refund please", "ما رجعت الفلوس للحين", "بدي استرجع مصرياتي", "ابي ترجعون المبلغ", "ما وصلني المبلغ المسترد", "رجعولي فلوسي", "امتى يرجع المبلغ على الفيزا", "refund status",
    "i returned it but no refund yet", "flousi ma rege3etsh", "فلوسي لسه مرجعتش", "ابي فلوسي", "متى ترجع فلوسي", "ابي استرداد المبلغ", "رجعت المنتج وما رجعت الفلوس", "عايز فلوسي ترجع",
    "الفلوس لسه مرجعتش", "امتى الفلوس هترجع على الكارت", "بدي مصرياتي", "وين المصاري يلي دفعتها",
    "أريد استرداد المبلغ", "لم يتم استرداد المبلغ حتى الآن", "متى سيتم رد المبلغ", "i want a refund",
    "where is my refund", "refund hasn't arrived", "how long does the refund take", "please refund my money",
    "3ayez felousi", "abi floosi", "emta el flous tirga3", "el refund fen", "استرجاع المبلغ للبطاقة",
    "انخصم مني مرتين ابي ارجاع مبلغ", "refund to my card please", "رجعوا المبلغ", "ابي تعويض",
    "دفعت ولغيت الطلب وين فلوسي", "i was charged but cancelled, refund", "كم ياخذ استرداد المبلغ",
    "money back please", "ابي المبلغ يرجع محفظتي",
]
I["exchange"] = [
    "can i exchange it for another color", "i need a different size", "exchange my order please", "ابغى ابدل القطعة", "ينفع ابدل بموديل تاني", "ابي ابدل المقاس", "ابغى استبدل {p} بمقاس اكبر", "ممكن ابدل اللون", "عايز ابدل المقاس", "ينفع اغير المقاس؟",
    "عايز استبدل {p} بلون تاني", "بدي بدل القياس", "فيني غير اللون", "بدي استبدل الغرض بغيره",
    "أرغب في استبدال المنتج", "هل يمكن استبدال المقاس", "exchange for a bigger size", "can i exchange the color",
    "i want to swap it for a different size", "exchange the {pe} please", "3ayez abadel el ma2as",
    "abi abadel el lon", "badi baddel el size", "المقاس صغير ابي اكبر منه", "ابي ابدله بموديل ثاني",
    "can i get a medium instead of small", "استبدال", "ممكن استبدال بدل الاسترجاع", "swap size L to XL",
    "المقاس طلع ضيق عايز اكبر", "بدل المقاس لو سمحت", "exchange policy?", "ابي نفس القطعة بس لون ثاني",
]
I["change_address_or_phone"] = [
    "i moved, new address please", "please update the contact number", "edit my address", "ابي اعدل اللوكيشن", "غيرو رقمي لو سمحت", "ابي اغير العنوان", "ابغى اعدل رقم الجوال", "العنوان غلط ابي اعدله", "غيروا العنوان لو سمحت",
    "عايز اغير العنوان", "رقم التليفون غلط", "عايز اغير رقم الموبايل", "بدي غير العنوان", "بدي عدل رقم التلفون",
    "أرغب في تعديل عنوان الشحن", "الرجاء تحديث رقم الهاتف", "change my delivery address",
    "i need to update my phone number", "wrong address on my order {o}", "can you change the shipping address",
    "3ayez aghayar el 3enwan", "abi aghayer raqam el jawal", "ghayar el address", "انقلت لحي ثاني ابي اغير العنوان",
    "ارسلوه على عنوان الشغل بدال البيت", "the phone number is wrong", "update address to Riyadh",
    "العنوان الجديد حي النرجس", "ابي اضيف رقم ثاني للتواصل", "وصلوه لعنوان تاني", "حدثوا رقمي 0501234567",
    "تعديل العنوان", "change the number to 0551234567", "اللوكيشن غلط",
]
I["payment_problem"] = [
    "the payment didn't go through", "my payment is not accepted", "error when paying with card", "i can't pay", "ما اقدر ادفع بالبطاقة", "الدفع علق", "الدفع ما يمشي", "البطاقة مرفوضة", "انخصم المبلغ والطلب ما تأكد", "ما قدرت ادفع", "الفيزا مش راضية تدفع",
    "الدفع بيفشل كل مرة", "اتخصم مني ومفيش طلب", "ما عم يقبل البطاقة", "في مشكلة بالدفع", "الدفع بأبل باي ما يشتغل",
    "فشلت عملية الدفع", "تم خصم المبلغ مرتين", "payment failed", "my card was declined",
    "i was charged twice", "can't complete the payment", "apple pay not working", "tabby not working",
    "el dafa3 mesh shaghal", "el card marfoda", "ma 2dert adfa3", "مدى ما يقبل", "تابي يرفض",
    "خطأ في الدفع", "الرابط حق الدفع ما يفتح", "payment page keeps loading", "stc pay ما يشتغل",
    "حاولت ادفع ٣ مرات", "transaction error", "الكارت اترفض",
]
I["cod_confirmation"] = [
    "ايوه تمام ابعتوه", "اي نعم ارسلوه", "تمام اكدت", "yes go ahead", "ok send it", "نعم موافق على الطلب",
    "اكيد ارسلوا الطلب", "نعم اكد الطلب", "اكيد ابيه", "تمام اكدوا الطلب", "ايوه اكد الاوردر", "ايوا انا موافق", "اه ابعتوه",
    "أكيد بدي ياه", "اي اكدوه", "نعم أؤكد الطلب", "أؤكد الطلب والدفع عند الاستلام", "yes confirm",
    "yes i confirm my order", "confirmed, cash on delivery", "yes please send it", "aywa akked",
    "na3am akkid", "ok confirm el order", "اكد الطلب الدفع عند الاستلام", "ايه ارسلوه وادفع كاش",
    "موافق ابعتوه", "confirm", "تم التأكيد", "yes", "نعم", "ايوه", "أكد", "sure, send it",
    "تمام موافق ارسلوه", "اكد يا غالي",
]
I["cod_refusal"] = [
    "لا الغي ما ابيه", "مو محتاج الطلب", "مش طالب حاجة", "ما بدي استلم شي", "no i refuse the order",
    "la2 shokran mesh 3ayez", "لا تجيبونه", "ما اعرف عن هذا الطلب", "رفض", "لا ما ابيه", "لا مش عايزه", "لا متبعتوش", "لا ما بدي", "مو انا اللي طلبت",
    "ما طلبت شي", "ما بدي ياه", "لا أريد الطلب", "لم أطلب هذا", "no i don't want it", "i didn't order this",
    "no don't send it", "la2 mesh 3ayzo", "la ma abih", "la2 ma badi", "لا ما ابي استلم", "مش هستلم",
    "رجعوه ما ابيه", "refuse", "لا", "no", "لا شكرا مو محتاجه", "not me, wrong number",
    "ما ني مستلم", "غلطان الرقم ما طلبت", "رفضت الاستلام",
    "لا ما اقدر استلم الطلب", "no, i will not receive it", "مش عايز استلم", "ما راح استلمه", "la la mesh 3ayez"
]
I["complaint"] = [
    "very bad experience with your store", "i am very disappointed", "the delivery guy was rude", "this is unacceptable", "تجربة سيئة جدا مع متجركم", "ما عندكم احترام للعميل", "الطلب جاني ناقص", "القطعة فيها عيب", "ليش ترسلون لي شي غلط", "المنتج مختلف تماما عن الوصف", "تعبت وانا اتواصل معكم",
    "الجودة سيئة جدا", "اسوأ خدمة شفتها", "الكرتونة وصلت مفتوحة", "المنتج منتهي الصلاحية", "the package was opened",
    "the product is damaged", "worst service ever", "item is not as described", "el montag 3'alat", "wasalni 7aga ghalat",
    "بلغت اكثر من مرة ومحد سوى شي", "المندوب رمى الشحنة عند الباب", "حرام عليكم كذا", "المندوب كان قليل ادب", "خدمتكم سيئة", "وصلني المنتج مكسور", "المنتج غير الصورة", "ابي اشتكي",
    "الخدمة زفت", "المندوب اتعامل بقلة ذوق", "جالي حاجة غلط", "المنتج وصل بايظ", "انا زعلان جدا من الخدمة",
    "الخدمة كتير سيئة", "وصلتني القطعة مخزوقة", "بدي اشتكي على المندوب", "أريد تقديم شكوى",
    "المنتج تالف", "خدمة العملاء لا ترد", "i want to file a complaint", "the item arrived broken",
    "your service is terrible", "the courier was rude", "wrong item delivered", "nobody answers the phone",
    "el service zeft", "el montag wasal maksoor", "3ayez ashtki", "محد يرد علي من امس", "ناقص قطعة من الطلب",
    "المنتج مقلد مو اصلي", "this is a scam", "received a used product", "شكوى",
    "ثاني مرة يوصلني الطلب غلط", "وصلني مقاس غير اللي طلبته", "الكرتون مبلول والمنتج خربان", "المندوب طلب فلوس زيادة", "بلغتكم من اسبوع ولا احد سوى شي",
    "اللون باهت ومش زي الصورة", "الريحة مش زي الاصلي", "الجهاز فيه خدوش", "الخدمة عندكم صارت سيئة", "حسبي الله فيكم",
    "the zipper is broken", "i received the wrong color", "your courier threw my package", "this is the second time you sent the wrong item", "very poor customer support",
    "el order wasal na2es", "el mandoub kan wa7esh", "الشغل ده ميرضيش ربنا", "انا مستاء جدا", "المنتج طلع مستعمل"
]
I["product_question"] = [
    "do you have it in red", "what is the price of the {pe}", "is the {pe} available in size M", "tell me more about this product", "ما هي الألوان المتوفرة", "هل يتوفر مقاس صغير", "هل المقاس يناسب الطول", "وش الفرق بين الموديلين", "كم الوزن", "هل يجي معه شاحن", "في مقاسات للاطفال",
    "عندكم الموديل الجديد", "المنتج ده بيتغسل عادي", "what colors are available", "does it come with a charger",
    "is it suitable for kids", "3andoko size small?", "el lon el aswad mawgood?", "الكمية المتوفرة كم", "هل {p} متوفر", "عندكم مقاس كبير", "كم سعر {p}", "{p} اصلي؟", "وش خامة الفستان", "المنتج ده متوفر؟",
    "ايه الالوان المتاحة", "بكام {p}", "هل في مقاس XL", "في عندكن لون اسود", "قديش حق {p}", "شو نوع القماش",
    "ما هي مواصفات المنتج", "هل المنتج أصلي", "هل يوجد ضمان", "is the {pe} in stock", "what sizes do you have",
    "how much is the {pe}", "does it come in black", "is this original", "what material is it",
    "el {pe} mawgood?", "bkam el {pe}", "fi ma2as kbir?", "does it have warranty", "كم الضمان",
    "يناسب بشرة حساسة؟", "المقاس يجي مضبوط ولا اكبر؟", "is it waterproof", "متى ينزل المنتج مرة ثانية",
    "كم يوم التوصيل لجدة", "do you ship to Dubai",
    "المقاسات متوفرة كلها؟", "هل العطر يدوم", "وش مكونات الكريم", "يناسب الشعر الجاف؟", "is it true to size", "does the watch have gps",
    "fi lon ahmar?", "el se3r kam", "كم سعر التوصيل مع المنتج"
]
I["discount_question"] = [
    "any promo code?", "are there any deals today", "do you have any offers", "is there a discount", "عندكم عروض اليوم", "في كوبون للتطبيق", "الخصم ما انطبق", "فيه كود للعملاء الجدد", "عندكم تخفيضات", "متى التخفيضات", "في كود خصم لرمضان",
    "is there a coupon for new customers", "when is the next sale", "el khasm mesh zaher", "fi offers?", "في خصم", "عندكم كود خصم", "الكوبون ما يشتغل", "فيه عروض", "في خصومات الفترة دي", "كود الخصم مش شغال",
    "في اوفرات", "في عروض هالفترة", "الكود ما عم يزبط", "هل يوجد خصم", "كيف أستخدم كود الخصم",
    "هل لديكم عروض", "any discount codes", "the coupon doesn't work", "do you have any offers",
    "is there a sale", "fi khasm?", "el coupon mesh shaghal", "fi 3rood?", "عروض الجمعة البيضاء",
    "في خصم للطلب الثاني", "promo code please", "ابي كود خصم", "الكوبون منتهي؟", "discount for first order?",
    "ينفع كوبونين مع بعض", "في شحن مجاني", "free shipping code",
]
I["greeting"] = [
    "hey", "hello there", "مرحبا بكم", "يا هلا والله", "هاي ازيك", "السلام عليكم", "مرحبا", "هلا", "اهلين", "صباح الخير", "مساء الخير", "ازيكم", "اهلا", "هاي", "مرحبتين",
    "كيفكن", "يا هلا", "السلام عليكم ورحمة الله", "hello", "hi", "hey there", "good morning", "good evening",
    "salam", "mar7aba", "ahlan", "saba7 el 5eer", "هلا والله", "السلام عليكم شلونكم", "hi there",
    "سلام", "hello anyone there?", "مساء النور",
]
I["thanks"] = [
    "thanks for your help", "many thanks", "cheers", "مشكور ما قصرت", "يسلمو ايديكم", "شكرا", "مشكورين", "يعطيكم العافية", "شكرا جزيلا", "تسلم", "متشكر جدا", "شكرا يا جماعة", "ميرسي",
    "يسلمو", "شكرا كتير", "الله يعطيك العافية", "شكرا لكم", "جزاكم الله خير", "thanks", "thank you so much",
    "thx", "appreciate it", "shukran", "merci", "tslm", "ya3tik el 3afia", "تسلم ايدك", "ما قصرتوا",
    "شكرا على المساعدة", "thanks a lot for the help", "تمام شكرا", "الله يجزاك خير",
    "شكرا جزيلا على سرعة الرد", "تسلمون على الخدمة", "thanks guys", "thank you very much", "مشكورين ما قصرتوا", "shokran gedan"
]
I["other"] = [
    "who is the owner", "can i visit your warehouse", "send me your catalogue", "i want to work with you", "ممكن اتكلم مع المسؤول", "ok", "fine", "ابي اتواصل مع الادارة", "وين موقعكم بالضبط", "عندكم وكلاء", "ممكن شراكة", "كيف اصير مورد", "فين مقركم",
    "what is your email", "do you have a website", "i have a business proposal", "ابغى اسوي حساب جديد", "طيب", "اوكي",
    "hmm", "...", "تشتغلون وظائف؟", "ابي اكون مسوق معكم", "وش اسم المتجر في انستقرام", "هل عندكم فرع", "عايز اشتغل معاكم",
    "ممكن رقم المدير", "عندكو فرع في اسكندرية", "بدي صير موزع", "شو ساعات الدوام", "هل لديكم متجر فعلي",
    "أرغب في التعاون التجاري", "do you have a physical store", "are you hiring", "what are your opening hours",
    "can i become a reseller", "3andoko far3?", "fi wazayef?", "ok", "تمام", "👍", "؟؟", "test",
    "ابي اتكلم مع موظف", "حولني على موظف", "can i talk to a human", "كيف اسجل حساب", "نسيت كلمة المرور",
    "how do i create an account", "هل التطبيق متوفر على ايفون",
    "كم عمر المتجر", "انتوا سعوديين؟", "ابي اعرف مين صاحب المتجر", "عندكم تيك توك", "ابي اصور اعلان لكم",
    "do you have an affiliate program", "what is your instagram", "can i pick up from your warehouse", "how long have you been in business", "are you on tiktok",
    "fi instagram?", "ابي اسوي تعاون", "هل تقبلون الموردين", "عايز اعمل شراكة"
]

PREFIX = ["", "", "", "", "السلام عليكم ", "مرحبا ", "هلا ", "hi ", "hello ", "لو سمحت ", "please ", "يا جماعة "]
SUFFIX = ["", "", "", "", " لو سمحت", " please", " ؟", "?", " 🙏", " بسرعة", " plz", " الله يخليك", " ضروري", " 😡", " 🙏🙏"]
NO_AFFIX = {"greeting", "thanks", "cod_confirmation", "cod_refusal"}


def fill(t):
    return (t.replace("{o}", random.choice(ORDER)).replace("{p}", random.choice(PRODUCT))
            .replace("{pe}", random.choice(PRODUCT_EN)).replace("{d}", random.choice(DAYS))
            .replace("{de}", random.choice(DAYS_EN)))


def noise(s):
    r = random.random()
    if r < 0.08 and len(s) > 6:  # drop a character (typo)
        i = random.randrange(1, len(s) - 1)
        return s[:i] + s[i + 1:]
    if r < 0.14:  # elongate last letter
        return s + s[-1] * 3 if s[-1].isalpha() else s
    return s


def expand(label, base, n):
    out = set()
    for _ in range(n * 3):
        if len(out) >= n:
            break
        t = fill(base)
        if label not in NO_AFFIX:
            t = random.choice(PREFIX) + t + random.choice(SUFFIX)
        elif random.random() < 0.3:
            t = t + random.choice(["", " 🙏", "!", " 😊", " ❤️", "?"])
        out.add(" ".join(noise(t).split()))
    return sorted(out)


here = os.path.dirname(os.path.abspath(__file__))
train, test = [], []
for label, bases in I.items():
    for k, b in enumerate(bases):
        if k % 4 == 3:
            test += [(label, x) for x in expand(label, b, 3)]
        else:
            train += [(label, x) for x in expand(label, b, 6)]
random.shuffle(train)
random.shuffle(test)
for name, rows in [("train.tsv", train), ("test.tsv", test)]:
    with open(os.path.join(here, name), "w", encoding="utf-8") as f:
        f.write("# label\ttext  (generated by generate.py; split by base phrase)\n")
        for l, t in rows:
            f.write(f"{l}\t{t}\n")
print(len(train), "train", len(test), "test")
