"""Word lists that tell names from words: general English vocabulary (a capitalised common
word is a headline's or a sentence's capital, not a name), places and nationalities, common
business abbreviations, role words and legal suffixes. Written by hand from general
knowledge of the language, not from any article. Pure data.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _inflected(verbs: str) -> frozenset[str]:
    """Each verb with its -s, -ed and -ing forms (regular spelling; the irregular forms are
    listed in _COMMON_TEXT)."""
    out: set[str] = set()
    for verb in verbs.split():
        out.add(verb)
        stem = verb[:-1] if verb.endswith("e") else verb
        if verb.endswith("y") and verb[-2:-1] not in "aeiou":
            out.update((verb[:-1] + "ies", verb[:-1] + "ied", verb + "ing"))
        else:
            out.add(verb + ("es" if verb.endswith(("s", "sh", "ch", "x", "z")) else "s"))
            out.update((stem + "ed", stem + "ing"))
    return frozenset(out)


# Frequent English verbs of news writing (their regular forms are generated).
_VERB_TEXT = """
    accept add agree aim allow announce appear apply approve argue arrive ask back ban
    base believe block boost build buy call cancel change charge check claim close collect
    complete confirm consider continue control cost count cover create cut deal debut decide
    delay deliver deny design develop die drop earn ease end enter expand expect explain
    face fail fall file finish fire follow force form gain grow hand happen help hire hit
    hold hope include increase invest join jump keep kill launch lead learn leave lift like
    list look lose make manage mark miss move need offer open order own pay plan play plunge
    post power prepare present press price produce promise provide pull push quit raise
    reach read receive record reduce reject release remain remove report require resign
    return reveal rise rule run save say see seek sell send serve set settle share ship
    shut sign slash slip slow soar sort spark spend split start stay step stop struggle
    study sue support surge take talk target tell test think top track trade train try
    turn unveil update use value vote wait want warn watch win work worry
"""
VERBS = _inflected(_VERB_TEXT)
VERB_FORMS = VERBS - _words(_VERB_TEXT)  # 'Announces', 'Lifts': a headline's verb

# Function words and irregular verb forms: never the first or last word of a name.
_FUNCTION_TEXT = """
    a about above across after again against ago ahead almost alone along already also
    always am among an and another any anyone anything are around as at away be because
    been before behind being below between beyond both but by can cannot could did do does
    doing done down during each either else enough even ever every everyone everything few
    for from further get gets getting go goes going gone got had has have having he her
    here hers herself him himself his how however i if in inside into is it its itself
    just lets may me might mine much must my myself nearly never no nobody none nor not
    nothing now of off often on once only onto or ours out over perhaps quite rather
    really shall she should since so some someone something soon still such than that the
    their theirs them themselves then there these they this those though through thus to
    today tomorrow tonight yesterday together too toward towards under unless until up upon us very via was we were
    what whatever when where whether which while who whom whose why will with within
    without would yet you your yours yourself
    began begun bought brought came chose chosen drew driven fell felt gave given grew
    grown held kept knew known meant paid ran rose said sat saw seen sent shown sold spent
    spoke stood struck taken thought told took wrote written
"""

# Frequent English words that are capitalised only by a headline or a sentence's start.
_COMMON_TEXT = """
    all best better big biggest early first former good great last late later latest least
    less little long lot low made many more most near new next old once one other others
    own same several well led left lost met found won
    able actual additional available bad biggest black blue bright broad central certain
    chief clean clear close common complete current daily dark deep different direct due
    easy empty entire exact exclusive extra false fast final fine free full general global
    golden green happy hard heavy high higher highest huge human important inner just key
    large largest leading legal live local lower main major minor mobile modern national
    natural necessary net newer newest normal official open original other overall past
    personal popular possible previous prime private public quick ready real recent red
    right rich safe second secret senior short simple single small smart social special
    standard strong successful sudden super sure third top total true ultra unified united
    upper usual various vast white whole wide wild wrong young
    ability access account action activity addition advice age agent agreement air amount
    analysis answer app application area arm art article artist attack attention audience
    author award bank base battle beauty bill bit board body book boss box brand break
    breaking budget business buyer call camera campaign capital car card care career case
    cash cause center centre chance change chapter chart chat child choice city class
    client code coffee company comment community concern condition content contract
    correction cost country court creator crisis culture customer cycle data date day deal
    death decision demand design detail development device director disruptor door dream
    drive earnings economy edge edition effect effort election end energy engine engineer
    event evidence example experience expert eye face fact family fan feature fee field
    figure film fire firm flow focus food force form fortune freedom friend front fund
    future game gap god goal government grind group growth guide hand head health heart
    help hero history home hope hour house idea image impact industry information
    intelligence interest issue item job journey kind king lab land law leader level life
    light line link list loss love machine mafia man market master matter meaning media
    meeting member message method middle mind minute mission model moment money month
    morning mother motion music name nation nature network news night note number offer
    office oil opinion optimism option order owner page pair paper part partner party
    partnership past path pay people percent period person phone picture piece place plan
    platform player point policy power press price problem process product profit program
    programme project property quality quarter question race rank rate reason record
    release report research result return review risk road robot role room round rule
    safety sale scale scene school science screen season sector security series service
    session share ship shop show side sign size skill society software source space
    speech staff stage star start state statement step stock stocks store story strategy
    street study style subscription subscriptions success summary summit system table talk
    talks task team technology term test thing time tool top trade training trend trial
    truth type unit user value version video view vision voice vote war watch water way
    week weekend woman word work world year
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december jan feb mar apr jun jul aug
    sep sept oct nov dec
    yes no ok okay please thanks hello welcome breaking exclusive watch listen read more
    updated update photo photos video videos via source sources
"""

FUNCTION = _words(_FUNCTION_TEXT)
COMMON = FUNCTION | VERBS | _words(_COMMON_TEXT) | frozenset(w + "s" for w in _words(_COMMON_TEXT))

# Countries, states and provinces (with the abbreviations of a US dateline): a town
# followed by one of these is a place ('Portland, Ore.').
REGIONS = _words(
    """
    afghan afghanistan africa african albania algeria america american americas arab
    argentina argentine argentinian asia asian australia australian austria austrian
    bahrain bangladesh belgian belgium brazil brazilian britain british bulgaria cambodia
    canada canadian chile chilean china chinese colombia colombian croatia cuba czech
    danish denmark dutch egypt egyptian emirates england english estonia ethiopia europe
    european finland finnish france french german germany ghana greece greek hungarian
    hungary iceland india indian indonesia indonesian iran iranian iraq iraqi ireland irish
    israel israeli italian italy japan japanese jordan kenya korea korean kuwait latvia
    lebanon libya lithuania luxembourg malaysia malaysian mexican mexico morocco myanmar
    nepal netherlands nigeria nigerian norway norwegian oman pakistan pakistani peru
    philippine philippines poland polish portugal portuguese qatar romania russia russian
    saudi scotland scottish serbia singapore singaporean slovakia slovenia spain spanish
    sweden swedish swiss switzerland syria taiwan taiwanese thai thailand tunisia turkey
    turkish uae uk ukraine ukrainian uruguay usa venezuela vietnam vietnamese wales welsh
    western eastern northern southern asean
    alabama alaska arizona arkansas california colorado connecticut delaware florida
    georgia hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland
    massachusetts michigan minnesota mississippi missouri montana nebraska nevada ohio
    oklahoma oregon pennsylvania tennessee texas utah vermont virginia washington wisconsin
    wyoming ala ariz ark calif colo conn fla ga ill ind kan ky la mass md mich minn miss mo
    mont neb nev okla ore pa tenn va vt wash wis wyo n.j n.y n.c n.d n.h n.m s.c s.d w.va
    ontario quebec alberta saskatchewan manitoba
    """
)

# Places and nationalities: named, but never a party to an event.
PLACES = REGIONS | _words(
    """
    london paris berlin tokyo beijing shanghai shenzhen hangzhou guangzhou moscow madrid
    rome milan zurich geneva amsterdam brussels dublin stockholm oslo seoul singapore sydney
    melbourne toronto montreal vancouver chicago boston houston dallas denver seattle
    atlanta miami detroit phoenix portland austin barcelona mumbai delhi bangalore dubai
    riyadh istanbul cairo lagos nairobi jakarta manila bangkok hanoi taipei osaka
    """
)

# Abbreviations of business and technology that name no one: 'an IPO', 'the EPC contract'.
ACRONYMS = _words(
    """
    ai agi api app ar vr xr gpu cpu npu tpu soc llm llms ml nlp os ios ui ux pc hd sd ip ipo
    ipos pdf usb led lcd oled ev evs suv suvs ipo spac esg epc ppp pvc pet cdmo cro cmo oem
    odm ebit ebitda eps roe pe vc b2b b2c saas paas iaas crm erp seo kpi r&d m&a gdp cpi
    ceo cfo coo cto cpo cmo cio vp svp evp md hr pr faq q&a tv dvd cd gps sms url html
    sz sh hk bj sse szse hkex nyse nasdaq otc etf etfs reit adr ads ad am pm gmt utc est pst
    bst cet usd eur gbp jpy cny rmb hkd inc ltd llc plc pbc corp co lp llp
    """
)

# Role words: a run of capitalised words breaks at them ('Workday CEO Carl Eschenbach').
ROLES = _words(
    """
    ceo ceos cfo cfos coo cto cpo cmo cio chief officer officers president presidents
    vice chairman chairwoman chair founder founders co-founder cofounder director directors
    executive executives analyst analysts spokesman spokeswoman spokesperson reporter
    editor minister secretary governor senator chancellor premier mayor manager head
    """
)

# Legal forms: folded away from a name ('Apple Inc' → 'Apple'); alone they name nothing.
LEGAL_SUFFIXES = _words(
    """
    inc inc. incorporated corp corp. corporation co co. cos ltd ltd. limited llc l.l.c.
    llp lp plc pbc ag sa s.a. se nv n.v. bv b.v. gmbh spa s.p.a. sad ab asa oyj kk pty
    bhd tbk sarl sas
    """
)
